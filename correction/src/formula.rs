//! The TFormula subset correctionlib accepts: its grammar, and its evaluation in doubles.
//!
//! The grammar is correctionlib's PEG (`formula_ast.cc`), reproduced rule by rule so that a
//! formula correctionlib refuses is refused here too:
//!
//! ```text
//! EXPRESSION <- ATOM (BINARYOP ATOM)*        precedence, loosest first:
//!                                            || , && , == != , > < >= <= , - + , / * , ^ (right)
//! ATOM       <- LITERAL / UATOM
//! UATOM      <- '-'? ( CALLU / CALLB / NAME / '(' EXPRESSION ')' )
//! LITERAL    <- '-'? [0-9]+ ('.' [0-9]*)? ('e' '-'? [0-9]+)?      (no spaces inside)
//! CALLU      <- UNARYF '(' EXPRESSION ')'     log log10 exp erf sqrt abs cos sin tan acos asin
//!                                            atan cosh sinh tanh acosh asinh atanh
//! CALLB      <- BINARYF '(' EXPRESSION ',' EXPRESSION ')'        atan2 pow max min
//! NAME       <- '[' [0-9]+ ']' / 'x[' [0-9]+ ']' / [xyzt]
//! ```
//!
//! Spaces and tabs may follow every token. A unary minus binds tighter than `^`
//! (`-x^2` is `(-x)^2`), and a literal carries its own sign (`-2^2` is 4), as in correctionlib.
//! Comparisons and logical operators give 1.0 or 0.0; `max(a, b)` is `a < b ? b : a` and
//! `min(a, b)` is `b < a ? b : a` (C++'s `std::max`/`std::min`, which differ from Rust's
//! `f64::max`/`f64::min` when an argument is NaN).

use crate::libm;

/// A function of one argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fn1 {
    Neg,
    Log,
    Log10,
    Exp,
    Erf,
    Sqrt,
    Abs,
    Cos,
    Sin,
    Tan,
    Acos,
    Asin,
    Atan,
    Cosh,
    Sinh,
    Tanh,
    Acosh,
    Asinh,
    Atanh,
}

/// An operator or function of two arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fn2 {
    Or,
    And,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Sub,
    Add,
    Div,
    Mul,
    Pow,
    Atan2,
    Max,
    Min,
}

/// A compiled formula. Variables are indices into the correction's inputs (all real-valued),
/// parameters are indices into a FormulaRef's parameter list.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Lit(f64),
    Var(usize),
    Param(usize),
    Call1(Fn1, Box<Expr>),
    Call2(Fn2, Box<(Expr, Expr)>),
}

impl Expr {
    /// Evaluate with `var(i)` giving input `i` and `params` a FormulaRef's parameters.
    #[inline]
    pub(crate) fn eval(&self, var: &impl Fn(usize) -> f64, params: &[f64]) -> f64 {
        match self {
            Expr::Lit(v) => *v,
            Expr::Var(i) => var(*i),
            // The index was checked against the parameter count when the tree was compiled.
            Expr::Param(i) => params.get(*i).copied().unwrap_or(f64::NAN),
            Expr::Call1(f, a) => {
                let a = a.eval(var, params);
                match f {
                    Fn1::Neg => -a,
                    // correctionlib's wheels link glibc's pre-2.29 `log@GLIBC_2.2.5`, whose
                    // error wrapper returns +NaN (the NAN macro) for a negative argument; the
                    // current `log` returns the hardware's -NaN. Same value, other sign bit.
                    Fn1::Log if a < 0.0 => f64::NAN,
                    Fn1::Log => libm::log(a),
                    Fn1::Log10 => libm::log10(a),
                    Fn1::Exp => libm::exp(a),
                    Fn1::Erf => libm::erf(a),
                    Fn1::Sqrt => libm::sqrt(a),
                    Fn1::Abs => a.abs(),
                    Fn1::Cos => libm::cos(a),
                    Fn1::Sin => libm::sin(a),
                    Fn1::Tan => libm::tan(a),
                    Fn1::Acos => libm::acos(a),
                    Fn1::Asin => libm::asin(a),
                    Fn1::Atan => libm::atan(a),
                    Fn1::Cosh => libm::cosh(a),
                    Fn1::Sinh => libm::sinh(a),
                    Fn1::Tanh => libm::tanh(a),
                    Fn1::Acosh => libm::acosh(a),
                    Fn1::Asinh => libm::asinh(a),
                    Fn1::Atanh => libm::atanh(a),
                }
            }
            Expr::Call2(f, ab) => {
                let l = ab.0.eval(var, params);
                let r = ab.1.eval(var, params);
                let b = |c: bool| if c { 1.0 } else { 0.0 };
                match f {
                    Fn2::Or => b(l != 0.0 || r != 0.0),
                    Fn2::And => b(l != 0.0 && r != 0.0),
                    Fn2::Eq => b(l == r),
                    Fn2::Ne => b(l != r),
                    Fn2::Gt => b(l > r),
                    Fn2::Lt => b(l < r),
                    Fn2::Ge => b(l >= r),
                    Fn2::Le => b(l <= r),
                    Fn2::Sub => l - r,
                    Fn2::Add => l + r,
                    Fn2::Div => l / r,
                    Fn2::Mul => l * r,
                    Fn2::Pow => libm::pow(l, r),
                    Fn2::Atan2 => libm::atan2(l, r),
                    // std::max(a, b) is `a < b ? b : a`, std::min(a, b) is `b < a ? b : a`.
                    Fn2::Max => {
                        if l < r {
                            r
                        } else {
                            l
                        }
                    }
                    Fn2::Min => {
                        if r < l {
                            r
                        } else {
                            l
                        }
                    }
                }
            }
        }
    }

    /// The largest parameter index used, if any.
    pub(crate) fn max_param(&self) -> Option<usize> {
        match self {
            Expr::Lit(_) | Expr::Var(_) => None,
            Expr::Param(i) => Some(*i),
            Expr::Call1(_, a) => a.max_param(),
            Expr::Call2(_, ab) => ab.0.max_param().max(ab.1.max_param()),
        }
    }
}

/// Why a formula does not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FormulaError {
    /// The text does not follow the grammar; `position` is a byte offset.
    Syntax { position: usize },
    /// `x[i]`, `y`, `z` or `t` with no i-th entry in the formula's `variables`.
    Variable { index: usize, available: usize },
    /// `[i]` with no i-th entry in the formula's `parameters`.
    Parameter { index: usize, available: usize },
}

/// Parse `text`. `variables[i]` is the input index of formula variable `i`; with `params`
/// given, `[i]` is replaced by `params[i]` (a Formula node), otherwise it stays a parameter
/// reference (a generic formula used through FormulaRef).
pub(crate) fn parse(
    text: &str,
    variables: &[usize],
    params: Option<&[f64]>,
) -> Result<Expr, FormulaError> {
    let mut p = P {
        s: text.as_bytes(),
        i: 0,
        far: 0,
        depth: 0,
        variables,
        params,
        error: None,
    };
    p.ws();
    let e = p.expression(0);
    if let Some(err) = p.error.take() {
        return Err(err);
    }
    match e {
        Some(e) if p.i == p.s.len() => Ok(e),
        _ => Err(FormulaError::Syntax {
            position: p.far.max(p.i),
        }),
    }
}

struct P<'a> {
    s: &'a [u8],
    i: usize,
    /// The furthest position reached, for the error message.
    far: usize,
    depth: usize,
    variables: &'a [usize],
    params: Option<&'a [f64]>,
    /// A semantic error (unknown variable or parameter) found in a successful parse.
    error: Option<FormulaError>,
}

const UNARY: [(&str, Fn1); 18] = [
    ("log", Fn1::Log),
    ("log10", Fn1::Log10),
    ("exp", Fn1::Exp),
    ("erf", Fn1::Erf),
    ("sqrt", Fn1::Sqrt),
    ("abs", Fn1::Abs),
    ("cos", Fn1::Cos),
    ("sin", Fn1::Sin),
    ("tan", Fn1::Tan),
    ("acos", Fn1::Acos),
    ("asin", Fn1::Asin),
    ("atan", Fn1::Atan),
    ("cosh", Fn1::Cosh),
    ("sinh", Fn1::Sinh),
    ("tanh", Fn1::Tanh),
    ("acosh", Fn1::Acosh),
    ("asinh", Fn1::Asinh),
    ("atanh", Fn1::Atanh),
];

const BINARYF: [(&str, Fn2); 4] = [
    ("atan2", Fn2::Atan2),
    ("pow", Fn2::Pow),
    ("max", Fn2::Max),
    ("min", Fn2::Min),
];

const BINOPS: [(&str, Fn2); 13] = [
    ("||", Fn2::Or),
    ("&&", Fn2::And),
    ("==", Fn2::Eq),
    ("!=", Fn2::Ne),
    (">", Fn2::Gt),
    ("<", Fn2::Lt),
    (">=", Fn2::Ge),
    ("<=", Fn2::Le),
    ("-", Fn2::Sub),
    ("+", Fn2::Add),
    ("/", Fn2::Div),
    ("*", Fn2::Mul),
    ("^", Fn2::Pow),
];

/// Precedence level and right-associativity of a binary operator.
fn level(op: Fn2) -> (u8, bool) {
    match op {
        Fn2::Or => (1, false),
        Fn2::And => (2, false),
        Fn2::Eq | Fn2::Ne => (3, false),
        Fn2::Gt | Fn2::Lt | Fn2::Ge | Fn2::Le => (4, false),
        Fn2::Sub | Fn2::Add => (5, false),
        Fn2::Div | Fn2::Mul => (6, false),
        _ => (7, true),
    }
}

/// Formulas nest far less than this; the limit keeps recursion bounded on hostile input.
const MAX_DEPTH: usize = 200;

impl P<'_> {
    fn peek(&self) -> u8 {
        self.s.get(self.i).copied().unwrap_or(0)
    }

    fn ws(&mut self) {
        while matches!(self.peek(), b' ' | b'\t') {
            self.i += 1;
        }
    }

    fn lit(&mut self, c: u8) -> bool {
        if self.i < self.s.len() && self.s[self.i] == c {
            self.i += 1;
            self.ws();
            true
        } else {
            self.far = self.far.max(self.i);
            false
        }
    }

    /// The longest of `words` at the current position (a PEG dictionary), without spaces.
    fn dictionary<T: Copy>(&self, words: &[(&str, T)]) -> Option<(usize, T)> {
        let rest = &self.s[self.i..];
        words
            .iter()
            .filter(|(w, _)| rest.starts_with(w.as_bytes()))
            .max_by_key(|(w, _)| w.len())
            .map(|(w, t)| (w.len(), *t))
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while self.peek().is_ascii_digit() {
            self.i += 1;
        }
        self.i - start
    }

    fn expression(&mut self, min_level: u8) -> Option<Expr> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            self.far = self.far.max(self.i);
            return None;
        }
        let Some(mut lhs) = self.atom() else {
            self.depth -= 1;
            return None;
        };
        loop {
            let save = self.i;
            let Some((len, op)) = self.dictionary(&BINOPS) else {
                self.far = self.far.max(self.i);
                break;
            };
            let (lvl, right) = level(op);
            if lvl < min_level {
                break;
            }
            self.i += len;
            self.ws();
            let Some(rhs) = self.expression(if right { lvl } else { lvl + 1 }) else {
                self.i = save;
                self.depth -= 1;
                return None;
            };
            lhs = Expr::Call2(op, Box::new((lhs, rhs)));
        }
        self.depth -= 1;
        Some(lhs)
    }

    fn atom(&mut self) -> Option<Expr> {
        if let Some(v) = self.literal() {
            return Some(Expr::Lit(v));
        }
        let start = self.i;
        let neg = self.lit(b'-');
        let inner = self
            .call1()
            .or_else(|| self.call2())
            .or_else(|| self.name())
            .or_else(|| self.parenthesised());
        match inner {
            Some(e) if neg => Some(Expr::Call1(Fn1::Neg, Box::new(e))),
            Some(e) => Some(e),
            None => {
                self.i = start;
                None
            }
        }
    }

    fn literal(&mut self) -> Option<f64> {
        let start = self.i;
        if self.peek() == b'-' {
            self.i += 1;
        }
        if self.digits() == 0 {
            self.far = self.far.max(self.i);
            self.i = start;
            return None;
        }
        if self.peek() == b'.' {
            self.i += 1;
            self.digits();
        }
        if self.peek() == b'e' {
            let save = self.i;
            self.i += 1;
            if self.peek() == b'-' {
                self.i += 1;
            }
            if self.digits() == 0 {
                self.i = save;
            }
        }
        // Correctly rounded, as the C++ library's conversion of the token is.
        let text = std::str::from_utf8(&self.s[start..self.i]).ok()?;
        let v = parse_decimal(text)?;
        self.ws();
        Some(v)
    }

    fn call1(&mut self) -> Option<Expr> {
        let start = self.i;
        let (len, f) = self.dictionary(&UNARY)?;
        self.i += len;
        self.ws();
        let r = (|| {
            if !self.lit(b'(') {
                return None;
            }
            let a = self.expression(0)?;
            if !self.lit(b')') {
                return None;
            }
            Some(Expr::Call1(f, Box::new(a)))
        })();
        if r.is_none() {
            self.i = start;
        }
        r
    }

    fn call2(&mut self) -> Option<Expr> {
        let start = self.i;
        let (len, f) = self.dictionary(&BINARYF)?;
        self.i += len;
        self.ws();
        let r = (|| {
            if !self.lit(b'(') {
                return None;
            }
            let a = self.expression(0)?;
            if !self.lit(b',') {
                return None;
            }
            let b = self.expression(0)?;
            if !self.lit(b')') {
                return None;
            }
            Some(Expr::Call2(f, Box::new((a, b))))
        })();
        if r.is_none() {
            self.i = start;
        }
        r
    }

    fn index(&mut self) -> Option<usize> {
        let start = self.i;
        let n = self.digits();
        if n == 0 {
            self.far = self.far.max(self.i);
            return None;
        }
        // An index too large for usize cannot name anything: report it as missing.
        Some(
            std::str::from_utf8(&self.s[start..self.i])
                .ok()
                .and_then(|t| t.parse().ok())
                .unwrap_or(usize::MAX),
        )
    }

    fn name(&mut self) -> Option<Expr> {
        let start = self.i;
        // PARAMETER <- '[' < [0-9]+ > ']'
        if self.lit(b'[') {
            if let Some(k) = self.index() {
                self.ws();
                if self.lit(b']') {
                    return Some(self.parameter(k));
                }
            }
            self.i = start;
            return None;
        }
        // VARIABLE <- < 'x[' [0-9]+ ']' / [xyzt] >
        let var = match self.peek() {
            b'x' if self.s.get(self.i + 1) == Some(&b'[') => {
                self.i += 2;
                match self.index() {
                    Some(k) if self.peek() == b']' => {
                        self.i += 1;
                        Some(k)
                    }
                    _ => {
                        self.i = start + 1; // fall back to the plain `x`
                        Some(0)
                    }
                }
            }
            b'x' => {
                self.i += 1;
                Some(0)
            }
            b'y' => {
                self.i += 1;
                Some(1)
            }
            b'z' => {
                self.i += 1;
                Some(2)
            }
            b't' => {
                self.i += 1;
                Some(3)
            }
            _ => None,
        };
        let Some(k) = var else {
            self.far = self.far.max(self.i);
            return None;
        };
        self.ws();
        Some(match self.variables.get(k) {
            Some(&input) => Expr::Var(input),
            None => {
                self.error.get_or_insert(FormulaError::Variable {
                    index: k,
                    available: self.variables.len(),
                });
                Expr::Lit(f64::NAN)
            }
        })
    }

    fn parameter(&mut self, k: usize) -> Expr {
        match self.params {
            None => Expr::Param(k),
            Some(p) => match p.get(k) {
                Some(&v) => Expr::Lit(v),
                None => {
                    self.error.get_or_insert(FormulaError::Parameter {
                        index: k,
                        available: p.len(),
                    });
                    Expr::Lit(f64::NAN)
                }
            },
        }
    }

    fn parenthesised(&mut self) -> Option<Expr> {
        let start = self.i;
        if !self.lit(b'(') {
            return None;
        }
        let e = self.expression(0);
        match e {
            Some(e) if self.lit(b')') => Some(e),
            _ => {
                self.i = start;
                None
            }
        }
    }
}

/// A decimal literal of the grammar (`-`, digits, optional `.digits`, optional `e-digits`),
/// correctly rounded.
fn parse_decimal(text: &str) -> Option<f64> {
    // Rust's parser takes "1." and "1.e5" too, but normalise to be explicit.
    let normal = text.replacen(".e", ".0e", 1);
    let normal = if normal.ends_with('.') {
        format!("{normal}0")
    } else {
        normal
    };
    normal.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(text: &str, vars: &[f64], params: &[f64]) -> Result<f64, FormulaError> {
        let idx: Vec<usize> = (0..vars.len()).collect();
        let e = parse(text, &idx, Some(params))?;
        Ok(e.eval(&|i| vars[i], &[]))
    }

    #[test]
    fn precedence_and_signs_follow_correctionlib() {
        assert_eq!(eval("1+2*3", &[], &[]), Ok(7.0));
        assert_eq!(eval("2^3^2", &[], &[]), Ok(512.0));
        assert_eq!(eval("-2^2", &[], &[]), Ok(4.0));
        assert_eq!(eval("-x^2", &[3.0], &[]), Ok(9.0));
        assert_eq!(eval("8-2-1", &[], &[]), Ok(5.0));
        assert_eq!(eval("x>=1 && y<1 || 0", &[1.0, 0.0], &[]), Ok(1.0));
        assert_eq!(eval(" max( [0] , x ) ", &[1.0], &[2.0]), Ok(2.0));
        assert_eq!(eval("log10(100)+atan2(0,1)", &[], &[]), Ok(2.0));
        assert_eq!(eval("x[1]*t", &[0.0, 2.0, 0.0, 4.0], &[]), Ok(8.0));
        assert_eq!(eval("1.e1+2.", &[], &[]), Ok(12.0));
    }

    #[test]
    fn refusals_match_the_grammar() {
        assert!(matches!(
            eval("- 1", &[], &[]),
            Err(FormulaError::Syntax { .. })
        ));
        assert!(matches!(
            eval("1 +", &[], &[]),
            Err(FormulaError::Syntax { .. })
        ));
        assert!(matches!(
            eval("foo(1)", &[], &[]),
            Err(FormulaError::Syntax { .. })
        ));
        assert!(matches!(
            eval("1E5", &[], &[]),
            Err(FormulaError::Syntax { .. })
        ));
        assert_eq!(
            eval("y", &[1.0], &[]),
            Err(FormulaError::Variable {
                index: 1,
                available: 1
            })
        );
        assert_eq!(
            eval("[2]", &[], &[1.0]),
            Err(FormulaError::Parameter {
                index: 2,
                available: 1
            })
        );
        assert!(eval(&"(".repeat(100_000), &[], &[]).is_err());
    }
}
