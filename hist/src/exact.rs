//! Exact floating-point sums.
//!
//! A real number that is a finite sum of doubles is kept as an *expansion*: a list of doubles
//! whose exact (unrounded) sum is the number. The algorithms are Shewchuk's ("Adaptive
//! Precision Floating-Point Arithmetic", 1997), the same ones CPython's `math.fsum` uses:
//! error-free `two_sum`/`two_prod`, `grow` (add one double to a non-overlapping expansion,
//! dropping zeros) and a correctly rounded read-out.
//!
//! [`ExactVec`] is one such sum per histogram bin, laid out for fast fills: the leading
//! double of every bin lives in a plain `Vec<f64>` (the hot accumulator) and only the rounding
//! error of an addition, when there is one, goes to the bin's tail expansion. Unit-weight fills
//! never produce an error below 2^53, so they cost one addition and one predictable branch.

/// `s + e == a + b` exactly, with `s = fl(a + b)` (Knuth's branch-free TwoSum).
#[inline(always)]
pub fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    let e = (a - (s - bb)) + (b - bb);
    (s, e)
}

/// `p + e == a * b` exactly (barring underflow of the error term), with `p = fl(a * b)`.
/// An overflowing product has no finite error term; it is returned alone.
#[inline]
pub(crate) fn two_prod(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    if !p.is_finite() {
        return (p, 0.0);
    }
    // fma computes a*b - p with one rounding, and the exact difference is representable.
    (p, a.mul_add(b, -p))
}

/// Adds `b` to `e`, a non-overlapping expansion in increasing magnitude, exactly
/// (Shewchuk's GROW-EXPANSION with zero elimination). `e` stays non-overlapping.
pub fn grow(e: &mut Vec<f64>, b: f64) {
    let mut q = b;
    let mut j = 0;
    for i in 0..e.len() {
        let (s, err) = two_sum(q, e[i]);
        if err != 0.0 {
            e[j] = err;
            j += 1;
        }
        q = s;
    }
    e.truncate(j);
    if q != 0.0 {
        e.push(q);
    }
}

/// The double nearest to the exact sum of a non-overlapping expansion (ties to even):
/// the last step of CPython's `math.fsum`.
pub(crate) fn round(p: &[f64]) -> f64 {
    let mut n = p.len();
    if n == 0 {
        return 0.0;
    }
    n -= 1;
    let mut hi = p[n];
    let mut lo = 0.0;
    while n > 0 {
        let x = hi;
        n -= 1;
        let y = p[n];
        hi = x + y;
        let yr = hi - x;
        lo = y - yr;
        if lo != 0.0 {
            break;
        }
    }
    // Half-way cases: the rest of the expansion decides which way the tie breaks.
    if n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0)) {
        let y = lo * 2.0;
        let x = hi + y;
        let yr = x - hi;
        if y == yr {
            hi = x;
        }
    }
    hi
}

/// A non-overlapping expansion of the exact sum of `parts` (all finite), or `None` when an
/// intermediate sum leaves the double range.
pub(crate) fn expansion(parts: impl IntoIterator<Item = f64>) -> Option<Vec<f64>> {
    let mut p = Vec::new();
    for x in parts {
        grow(&mut p, x);
    }
    p.iter().all(|x| x.is_finite()).then_some(p)
}

/// The canonical form of an exact sum of finite doubles: `c0`, the correctly rounded value,
/// then the correctly rounded remainders, smallest first. It depends only on the real number,
/// never on how it was summed, which is what makes merged histograms bit-identical.
/// Returns `None` if the sum overflows.
pub(crate) fn canonical(parts: impl IntoIterator<Item = f64>) -> Option<(f64, Vec<f64>)> {
    let mut p = expansion(parts)?;
    let c0 = round(&p);
    if !c0.is_finite() {
        return None;
    }
    grow(&mut p, -c0);
    let mut rest = Vec::new();
    // Each step removes at least 52 bits; the cap only guards against a logic error.
    for _ in 0..64 {
        if p.is_empty() {
            break;
        }
        let c = round(&p);
        rest.push(c);
        grow(&mut p, -c);
    }
    rest.extend(p.iter().rev());
    rest.reverse();
    Some((c0, rest))
}

/// `a * b` for an expansion `a`, exactly (as a non-overlapping expansion).
pub(crate) fn scale(a: &[f64], b: f64) -> Vec<f64> {
    let mut out = Vec::new();
    for &x in a {
        let (p, e) = two_prod(x, b);
        grow(&mut out, e);
        grow(&mut out, p);
    }
    out
}

/// `a * b` for two expansions, exactly.
pub(crate) fn mul(a: &[f64], b: &[f64]) -> Vec<f64> {
    let mut out = Vec::new();
    for &y in b {
        for z in scale(a, y) {
            grow(&mut out, z);
        }
    }
    out
}

/// `a - b` for two expansions, exactly.
pub(crate) fn sub(a: &[f64], b: &[f64]) -> Vec<f64> {
    let mut out = a.to_vec();
    for &x in b {
        grow(&mut out, -x);
    }
    out
}

fn abs(a: &[f64]) -> Vec<f64> {
    if round(a) < 0.0 {
        a.iter().map(|x| -x).collect()
    } else {
        a.to_vec()
    }
}

/// The next double towards +inf (`f64::next_up` needs Rust 1.86; the workspace supports 1.85).
fn next_up(x: f64) -> f64 {
    if x.is_nan() || x == f64::INFINITY {
        return x;
    }
    if x == 0.0 {
        return f64::from_bits(1);
    }
    let b = x.to_bits();
    f64::from_bits(if x > 0.0 { b + 1 } else { b - 1 })
}

fn next_down(x: f64) -> f64 {
    -next_up(-x)
}

/// The double nearest to `n / d` (ties to even) for exact expansions `n` and `d`. A zero
/// denominator gives what IEEE division of the rounded values gives (NaN or ±inf).
pub(crate) fn div_round(n: &[f64], d: &[f64]) -> f64 {
    let (nn, dn) = (round(n), round(d));
    let mut q = nn / dn;
    if !q.is_finite() || q == 0.0 {
        return q;
    }
    // |n - q*d| is |d| times the distance from q to the true quotient: walk to the neighbour
    // that makes it smallest. The first guess is within a few ulps, so this takes few steps.
    let resid = |q: f64| abs(&sub(n, &scale(d, q)));
    let mut r = resid(q);
    for _ in 0..8 {
        if r.is_empty() {
            return q;
        }
        let dir = round(&sub(n, &scale(d, q))) * dn;
        let q2 = if dir > 0.0 { next_up(q) } else { next_down(q) };
        let r2 = resid(q2);
        let cmp = round(&sub(&r2, &r));
        if cmp < 0.0 {
            q = q2;
            r = r2;
        } else {
            if cmp == 0.0 && q.to_bits() & 1 == 1 {
                // Exactly half-way: ties go to the even neighbour.
                q = q2;
            }
            return q;
        }
    }
    q
}

/// `n / d` to about 200 bits, as an expansion (for turning imported means and variances back
/// into sums).
pub(crate) fn div_expansion(n: &[f64], d: &[f64]) -> Vec<f64> {
    let dn = round(d);
    let mut r = n.to_vec();
    let mut q = Vec::new();
    for _ in 0..4 {
        let rn = round(&r);
        let qi = rn / dn;
        if rn == 0.0 || qi == 0.0 || !qi.is_finite() {
            break;
        }
        grow(&mut q, qi);
        r = sub(&r, &scale(d, qi));
    }
    q
}

/// One exact sum per bin. Invariant: the value of bin `i` is `hi[i]` plus the exact sum of
/// `tails[i]` (a non-overlapping expansion), unless `hi[i]` is not finite, in which case the
/// value is `hi[i]` (infinities and NaN absorb everything, as in IEEE arithmetic).
#[derive(Clone, Debug, Default)]
pub(crate) struct ExactVec {
    hi: Vec<f64>,
    /// Empty until the first inexact addition, then one expansion per bin.
    tails: Vec<Vec<f64>>,
}

impl ExactVec {
    pub(crate) fn zeros(n: usize) -> ExactVec {
        ExactVec {
            hi: vec![0.0; n],
            tails: Vec::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.hi.len()
    }

    /// Adds `v` to bin `i` exactly. The hot path of every fill.
    #[inline(always)]
    pub(crate) fn add(&mut self, i: usize, v: f64) {
        let a = self.hi[i];
        let (s, e) = two_sum(a, v);
        self.hi[i] = s;
        if e != 0.0 {
            self.spill(i, e, s);
        }
    }

    #[cold]
    #[inline(never)]
    fn spill(&mut self, i: usize, e: f64, s: f64) {
        // A non-finite sum gives a NaN error term; the tail no longer matters then.
        if !s.is_finite() {
            return;
        }
        if self.tails.is_empty() {
            self.tails = vec![Vec::new(); self.hi.len()];
        }
        grow(&mut self.tails[i], e);
    }

    fn tail(&self, i: usize) -> &[f64] {
        self.tails.get(i).map_or(&[], |t| t.as_slice())
    }

    /// The exact value of bin `i` as an expansion, or `Err(x)` with its non-finite value.
    pub(crate) fn exact(&self, i: usize) -> Result<Vec<f64>, f64> {
        let h = self.hi[i];
        if !h.is_finite() {
            return Err(h);
        }
        let mut p = self.tail(i).to_vec();
        grow(&mut p, h);
        if p.iter().all(|x| x.is_finite()) {
            Ok(p)
        } else {
            Err(h + round(self.tail(i)))
        }
    }

    /// Bin `i` rounded once to the nearest double.
    pub(crate) fn value(&self, i: usize) -> f64 {
        let t = self.tail(i);
        if t.is_empty() {
            return self.hi[i];
        }
        match self.exact(i) {
            Ok(p) => round(&p),
            Err(x) => x,
        }
    }

    /// Sets bin `i` to the exact sum of `parts`, in canonical form.
    pub(crate) fn set(&mut self, i: usize, parts: &[f64]) {
        let (c0, rest) = match canonical(parts.iter().copied()) {
            Some(c) => c,
            // Only reachable when the sum leaves the double range.
            None => (parts.iter().sum::<f64>(), Vec::new()),
        };
        self.put(i, c0, rest);
    }

    fn put(&mut self, i: usize, c0: f64, rest: Vec<f64>) {
        // One NaN bit pattern, so that equal histograms serialise identically.
        self.hi[i] = if c0.is_nan() { f64::NAN } else { c0 };
        if !rest.is_empty() && self.tails.is_empty() {
            self.tails = vec![Vec::new(); self.hi.len()];
        }
        if let Some(t) = self.tails.get_mut(i) {
            *t = rest;
        }
    }

    /// Adds bin `j` of `other` to bin `i`, exactly, leaving bin `i` canonical.
    pub(crate) fn add_from(&mut self, i: usize, other: &ExactVec, j: usize) {
        if other.hi[j] == 0.0 && other.tail(j).is_empty() {
            return;
        }
        match (self.exact(i), other.exact(j)) {
            (Ok(a), Ok(b)) => {
                let mut parts = a;
                parts.extend_from_slice(&b);
                self.set(i, &parts);
            }
            (a, b) => {
                // Infinities and NaN: IEEE addition of the values.
                let v = a.map_or_else(|x| x, |p| round(&p)) + b.map_or_else(|x| x, |p| round(&p));
                self.put(i, v, Vec::new());
            }
        }
    }

    /// Brings every bin to canonical form (used before comparing or writing).
    pub(crate) fn canonical_bin(&self, i: usize) -> (f64, Vec<f64>) {
        match self.exact(i) {
            Ok(p) => canonical(p).unwrap_or((self.value(i), Vec::new())),
            Err(x) => (if x.is_nan() { f64::NAN } else { x }, Vec::new()),
        }
    }

    /// A new vector of `new_len` bins where bin `map[i]` holds old bin `i`.
    pub(crate) fn remap(&self, map: &[usize], new_len: usize) -> ExactVec {
        let mut out = ExactVec::zeros(new_len);
        for (i, &m) in map.iter().enumerate() {
            out.hi[m] = self.hi[i];
        }
        if !self.tails.is_empty() {
            out.tails = vec![Vec::new(); new_len];
            for (i, &m) in map.iter().enumerate() {
                out.tails[m] = self.tails[i].clone();
            }
        }
        out
    }

    /// Builds a vector from rounded bins and `(bin, remainders)` pairs (a bin may repeat).
    pub(crate) fn from_parts(values: Vec<f64>, rest: Vec<(usize, Vec<f64>)>) -> Option<ExactVec> {
        let mut out = ExactVec {
            hi: values,
            tails: Vec::new(),
        };
        for (i, r) in rest {
            if i >= out.hi.len() || r.iter().any(|x| !x.is_finite()) {
                return None;
            }
            let mut parts = r;
            parts.push(out.hi[i]);
            if !out.hi[i].is_finite() {
                return None;
            }
            // A bin may come more than once (its second double, then its other remainders).
            parts.extend_from_slice(out.tail(i));
            out.set(i, &parts);
        }
        Some(out)
    }
}

impl PartialEq for ExactVec {
    /// Equal exact values in every bin (NaN equals NaN: this compares contents, not numbers).
    fn eq(&self, other: &ExactVec) -> bool {
        self.len() == other.len()
            && (0..self.len()).all(|i| {
                let (a, ra) = self.canonical_bin(i);
                let (b, rb) = other.canonical_bin(i);
                a.to_bits() == b.to_bits()
                    && ra.len() == rb.len()
                    && ra.iter().zip(&rb).all(|(x, y)| x.to_bits() == y.to_bits())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fsum(xs: &[f64]) -> f64 {
        round(&expansion(xs.iter().copied()).unwrap())
    }

    #[test]
    fn fsum_matches_known_cases() {
        // Cases from CPython's test_math.testFsum.
        assert_eq!(
            fsum(&[1e100, 1.0, -1e100, 1e-100, 1e50, -1.0, -1e50]),
            1e-100
        );
        assert_eq!(
            fsum(&[2.0f64.powi(53), -0.5, -2.0f64.powi(-54)]),
            2.0f64.powi(53) - 1.0
        );
        assert_eq!(
            fsum(&[2.0f64.powi(53), 1.0, 2.0f64.powi(-100)]),
            2.0f64.powi(53) + 2.0
        );
        assert_eq!(
            fsum(&[2.0f64.powi(53) + 10.0, 1.0, 2.0f64.powi(-100)]),
            2.0f64.powi(53) + 12.0
        );
        assert_eq!(fsum(&[0.1; 10]), 1.0);
        assert_eq!(fsum(&[]), 0.0);
    }

    #[test]
    fn canonical_is_unique() {
        let a = canonical([1.0, 1e-30, 3e-50]).unwrap();
        let b = canonical([3e-50, 0.5, 1e-30, 0.5]).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.0, 1.0);
    }

    #[test]
    fn division_is_correctly_rounded() {
        assert_eq!(div_round(&[1.0], &[3.0]), 1.0 / 3.0);
        // 0.2 is exactly 2 * 0.1, so (0.1 + 0.2) / 3 is exactly 0.1, while the plain double
        // computation rounds twice and gives 0.10000000000000002.
        assert_eq!(div_round(&[0.1, 0.2], &[3.0]), 0.1);
        assert_ne!((0.1 + 0.2) / 3.0, 0.1);
        // (1 + 2^-60) / 1 rounds to 1, and an exact quotient comes back exactly.
        assert_eq!(div_round(&[2.0f64.powi(-60), 1.0], &[1.0]), 1.0);
        assert_eq!(div_round(&scale(&[0.1], 7.0), &[7.0]), 0.1);
        let q = div_expansion(&[1.0], &[3.0]);
        assert_eq!(div_round(&mul(&q, &[3.0]), &[1.0]), 1.0);
    }

    #[test]
    fn exact_vec_adds_exactly() {
        let mut v = ExactVec::zeros(1);
        for _ in 0..10 {
            v.add(0, 0.1);
        }
        assert_eq!(v.value(0), 1.0);
        v.add(0, f64::INFINITY);
        assert_eq!(v.value(0), f64::INFINITY);
        v.add(0, f64::NEG_INFINITY);
        assert!(v.value(0).is_nan());
    }
}
