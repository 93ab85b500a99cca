//! A small JSON reader that reads numbers exactly as correctionlib does.
//!
//! correctionlib parses its files with rapidjson in its default ("normal precision") mode,
//! which is not correctly rounded: a decimal with 17 significant digits can come out one ulp
//! away from the nearest double. serde_json rounds correctly, so with it a bin edge or a
//! parameter could differ from the reference by an ulp and a value on an edge would land in
//! the other bin. This reader follows rapidjson's number algorithm step by step (integer
//! significand in 32 then 64 bits, then double accumulation after 2^53, at most 17
//! significant digits, one multiplication or division by a power of ten), and keeps whether
//! a number was written as an integer, because correctionlib accepts only non-integer
//! numbers as bin edges. It also accepts `NaN`, `Infinity` and `-Infinity`, as rapidjson's
//! `kParseNanAndInfFlag` does.

use std::fmt;

/// A parsed JSON value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    Num(Num),
    Str(String),
    Array(Vec<Json>),
    /// Members in file order; lookups take the first of duplicated keys, as rapidjson does.
    Object(Vec<(String, Json)>),
}

/// A JSON number as rapidjson classifies it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Num {
    /// Written without fraction or exponent and fits in an `i64` (rapidjson's Int/Uint/Int64).
    Int(i64),
    /// Written without fraction or exponent, in `(i64::MAX, u64::MAX]` (rapidjson's Uint64).
    UInt(u64),
    /// Anything else (rapidjson's Double), including NaN and infinities.
    Double(f64),
}

impl Num {
    /// The value as rapidjson's `GetDouble()` returns it.
    pub(crate) fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::UInt(u) => u as f64,
            Num::Double(d) => d,
        }
    }
}

impl Json {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Num(Num::Double(_)) => "a real number",
            Json::Num(_) => "an integer",
            Json::Str(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }

    /// The first member named `key`, if this is an object.
    pub(crate) fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Where and why the text is not JSON.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SyntaxError {
    pub offset: usize,
    pub message: &'static str,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.message, self.offset)
    }
}

/// Parse a whole document (one value, surrounded by optional whitespace).
pub(crate) fn parse(text: &[u8]) -> Result<Json, SyntaxError> {
    let mut p = Parser {
        s: text,
        i: 0,
        depth: 0,
    };
    p.ws();
    let v = p.value()?;
    p.ws();
    if p.i != p.s.len() {
        return Err(p.err("unexpected text after the JSON document"));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

/// Deeper nesting than any correction file needs; refusing it keeps recursion bounded.
const MAX_DEPTH: usize = 512;

impl Parser<'_> {
    fn err(&self, message: &'static str) -> SyntaxError {
        SyntaxError {
            offset: self.i,
            message,
        }
    }

    fn peek(&self) -> u8 {
        self.s.get(self.i).copied().unwrap_or(0)
    }

    fn ws(&mut self) {
        while matches!(self.peek(), b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == c && self.i < self.s.len() {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn literal(&mut self, word: &[u8], v: Json) -> Result<Json, SyntaxError> {
        if self.s[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(self.err("invalid value"))
        }
    }

    fn value(&mut self) -> Result<Json, SyntaxError> {
        match self.peek() {
            b'n' => self.literal(b"null", Json::Null),
            b't' => self.literal(b"true", Json::Bool(true)),
            b'f' => self.literal(b"false", Json::Bool(false)),
            b'"' => Ok(Json::Str(self.string()?)),
            b'{' => self.object(),
            b'[' => self.array(),
            _ => self.number().map(Json::Num),
        }
    }

    fn enter(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        Ok(())
    }

    fn object(&mut self) -> Result<Json, SyntaxError> {
        self.enter()?;
        self.i += 1;
        self.ws();
        let mut members = Vec::new();
        if !self.eat(b'}') {
            loop {
                if self.peek() != b'"' {
                    return Err(self.err("expected a member name"));
                }
                let k = self.string()?;
                self.ws();
                if !self.eat(b':') {
                    return Err(self.err("expected ':' after a member name"));
                }
                self.ws();
                let v = self.value()?;
                members.push((k, v));
                self.ws();
                if self.eat(b',') {
                    self.ws();
                    continue;
                }
                if self.eat(b'}') {
                    break;
                }
                return Err(self.err("expected ',' or '}' in an object"));
            }
        }
        self.depth -= 1;
        Ok(Json::Object(members))
    }

    fn array(&mut self) -> Result<Json, SyntaxError> {
        self.enter()?;
        self.i += 1;
        self.ws();
        let mut items = Vec::new();
        if !self.eat(b']') {
            loop {
                items.push(self.value()?);
                self.ws();
                if self.eat(b',') {
                    self.ws();
                    continue;
                }
                if self.eat(b']') {
                    break;
                }
                return Err(self.err("expected ',' or ']' in an array"));
            }
        }
        self.depth -= 1;
        Ok(Json::Array(items))
    }

    fn hex4(&mut self) -> Result<u32, SyntaxError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = match self.peek() {
                c @ b'0'..=b'9' => c - b'0',
                c @ b'a'..=b'f' => c - b'a' + 10,
                c @ b'A'..=b'F' => c - b'A' + 10,
                _ => return Err(self.err("invalid \\u escape")),
            };
            v = v * 16 + u32::from(d);
            self.i += 1;
        }
        Ok(v)
    }

    fn string(&mut self) -> Result<String, SyntaxError> {
        self.i += 1; // opening quote
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(&c) = self.s.get(self.i) else {
                return Err(self.err("unterminated string"));
            };
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let e = self.peek();
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if !(self.eat(b'\\') && self.eat(b'u')) {
                                    return Err(self.err("unpaired surrogate in \\u escape"));
                                }
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.err("invalid low surrogate in \\u escape"));
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            char::from_u32(code).ok_or_else(|| self.err("invalid \\u escape"))?
                        }
                        _ => {
                            self.i -= 1;
                            return Err(self.err("invalid escape in string"));
                        }
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                0..=0x1f => {
                    self.i -= 1;
                    return Err(self.err("control character in string"));
                }
                _ => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| self.err("string is not valid UTF-8"))
    }

    fn digit(&self) -> Option<u8> {
        match self.peek() {
            c @ b'0'..=b'9' => Some(c - b'0'),
            _ => None,
        }
    }

    /// rapidjson's `Reader::ParseNumber` without `kParseFullPrecisionFlag`, on a 64-bit target.
    fn number(&mut self) -> Result<Num, SyntaxError> {
        let minus = self.eat(b'-');
        let mut i: u32 = 0;
        let mut i64v: u64 = 0;
        let mut use64 = false;
        let mut sig_digits = 0i32;
        let mut d = 0.0f64;
        if self.peek() == b'0' {
            self.i += 1;
        } else if let Some(first) = self.digit().filter(|&c| c >= 1) {
            self.i += 1;
            i = u32::from(first);
            // 2^31 (negative) or 2^32 - 1 (positive) is the 32-bit limit.
            let (lim, last) = if minus {
                (214_748_364, 8)
            } else {
                (429_496_729, 5)
            };
            while let Some(c) = self.digit() {
                if i >= lim && (i != lim || c > last) {
                    i64v = u64::from(i);
                    use64 = true;
                    break;
                }
                i = i * 10 + u32::from(c);
                self.i += 1;
                sig_digits += 1;
            }
        } else if self.peek() == b'N' {
            if self.s[self.i..].starts_with(b"NaN") {
                self.i += 3;
                return Ok(Num::Double(f64::NAN));
            }
            return Err(self.err("invalid value"));
        } else if self.peek() == b'I' {
            if self.s[self.i..].starts_with(b"Infinity") {
                self.i += 8;
            } else if self.s[self.i..].starts_with(b"Inf") {
                self.i += 3;
                if self.peek() == b'i' {
                    return Err(self.err("invalid value"));
                }
            } else {
                return Err(self.err("invalid value"));
            }
            return Ok(Num::Double(if minus {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }));
        } else {
            return Err(self.err("invalid value"));
        }

        let mut use_double = false;
        if use64 {
            // 2^63 (negative) or 2^64 - 1 (positive) is the 64-bit limit.
            let (lim, last) = if minus {
                (0x0CCC_CCCC_CCCC_CCCC_u64, 8)
            } else {
                (0x1999_9999_9999_9999_u64, 5)
            };
            while let Some(c) = self.digit() {
                if i64v >= lim && (i64v != lim || c > last) {
                    d = i64v as f64;
                    use_double = true;
                    break;
                }
                i64v = i64v * 10 + u64::from(c);
                self.i += 1;
                sig_digits += 1;
            }
        }
        if use_double {
            while let Some(c) = self.digit() {
                d = d * 10.0 + f64::from(c);
                self.i += 1;
            }
        }

        let mut exp_frac: i32 = 0;
        if self.eat(b'.') {
            if self.digit().is_none() {
                return Err(self.err("missing fraction digits in a number"));
            }
            if !use_double {
                if !use64 {
                    i64v = u64::from(i);
                }
                while let Some(c) = self.digit() {
                    if i64v > 0x1F_FFFF_FFFF_FFFF {
                        break;
                    }
                    i64v = i64v * 10 + u64::from(c);
                    self.i += 1;
                    exp_frac -= 1;
                    if i64v != 0 {
                        sig_digits += 1;
                    }
                }
                d = i64v as f64;
                use_double = true;
            }
            while let Some(c) = self.digit() {
                self.i += 1;
                if sig_digits < 17 {
                    d = d * 10.0 + f64::from(c);
                    exp_frac -= 1;
                    if d > 0.0 {
                        sig_digits += 1;
                    }
                }
            }
        }

        let mut exp: i32 = 0;
        if self.eat(b'e') || self.eat(b'E') {
            if !use_double {
                d = if use64 { i64v as f64 } else { f64::from(i) };
                use_double = true;
            }
            let exp_minus = if self.eat(b'+') {
                false
            } else {
                self.eat(b'-')
            };
            let Some(c) = self.digit() else {
                return Err(self.err("missing exponent digits in a number"));
            };
            self.i += 1;
            exp = i32::from(c);
            if exp_minus {
                let max_exp = (exp_frac + 2_147_483_639) / 10;
                while let Some(c) = self.digit() {
                    self.i += 1;
                    exp = exp * 10 + i32::from(c);
                    if exp > max_exp {
                        while self.digit().is_some() {
                            self.i += 1;
                        }
                    }
                }
                exp = -exp;
            } else {
                let max_exp = 308 - exp_frac;
                while let Some(c) = self.digit() {
                    self.i += 1;
                    exp = exp * 10 + i32::from(c);
                    if exp > max_exp {
                        return Err(self.err("number too big"));
                    }
                }
            }
        }

        if use_double {
            let d = strtod_normal_precision(d, exp + exp_frac);
            if d > f64::MAX {
                return Err(self.err("number too big"));
            }
            return Ok(Num::Double(if minus { -d } else { d }));
        }
        Ok(if use64 {
            if minus {
                // Two's complement of the magnitude, as rapidjson's `~i64 + 1`.
                Num::Int((!i64v).wrapping_add(1) as i64)
            } else if i64v > i64::MAX as u64 {
                Num::UInt(i64v)
            } else {
                Num::Int(i64v as i64)
            }
        } else if minus {
            Num::Int(i64::from((!i).wrapping_add(1) as i32))
        } else {
            Num::Int(i64::from(i))
        })
    }
}

fn fast_path(significand: f64, exp: i32) -> f64 {
    if exp < -308 {
        0.0
    } else if exp >= 0 {
        significand * POW10[exp as usize]
    } else {
        significand / POW10[(-exp) as usize]
    }
}

fn strtod_normal_precision(d: f64, p: i32) -> f64 {
    if p < -308 {
        fast_path(fast_path(d, -308), p + 308)
    } else {
        fast_path(d, p)
    }
}

/// 1e0 ..= 1e308, each the correctly rounded double (as rapidjson's table of literals).
static POW10: [f64; 309] = {
    // Built at compile time from exact decimal literals by a const loop would round at each
    // step, so the table is spelled out by a macro expanding the literals 1eN.
    macro_rules! pow10 {
        ($($e:literal)*) => { [$($e),*] };
    }
    pow10!(1e0 1e1 1e2 1e3 1e4 1e5 1e6 1e7 1e8 1e9 1e10 1e11 1e12 1e13 1e14 1e15 1e16 1e17
        1e18 1e19 1e20 1e21 1e22 1e23 1e24 1e25 1e26 1e27 1e28 1e29 1e30 1e31 1e32 1e33 1e34
        1e35 1e36 1e37 1e38 1e39 1e40 1e41 1e42 1e43 1e44 1e45 1e46 1e47 1e48 1e49 1e50 1e51
        1e52 1e53 1e54 1e55 1e56 1e57 1e58 1e59 1e60 1e61 1e62 1e63 1e64 1e65 1e66 1e67 1e68
        1e69 1e70 1e71 1e72 1e73 1e74 1e75 1e76 1e77 1e78 1e79 1e80 1e81 1e82 1e83 1e84 1e85
        1e86 1e87 1e88 1e89 1e90 1e91 1e92 1e93 1e94 1e95 1e96 1e97 1e98 1e99 1e100 1e101
        1e102 1e103 1e104 1e105 1e106 1e107 1e108 1e109 1e110 1e111 1e112 1e113 1e114 1e115
        1e116 1e117 1e118 1e119 1e120 1e121 1e122 1e123 1e124 1e125 1e126 1e127 1e128 1e129
        1e130 1e131 1e132 1e133 1e134 1e135 1e136 1e137 1e138 1e139 1e140 1e141 1e142 1e143
        1e144 1e145 1e146 1e147 1e148 1e149 1e150 1e151 1e152 1e153 1e154 1e155 1e156 1e157
        1e158 1e159 1e160 1e161 1e162 1e163 1e164 1e165 1e166 1e167 1e168 1e169 1e170 1e171
        1e172 1e173 1e174 1e175 1e176 1e177 1e178 1e179 1e180 1e181 1e182 1e183 1e184 1e185
        1e186 1e187 1e188 1e189 1e190 1e191 1e192 1e193 1e194 1e195 1e196 1e197 1e198 1e199
        1e200 1e201 1e202 1e203 1e204 1e205 1e206 1e207 1e208 1e209 1e210 1e211 1e212 1e213
        1e214 1e215 1e216 1e217 1e218 1e219 1e220 1e221 1e222 1e223 1e224 1e225 1e226 1e227
        1e228 1e229 1e230 1e231 1e232 1e233 1e234 1e235 1e236 1e237 1e238 1e239 1e240 1e241
        1e242 1e243 1e244 1e245 1e246 1e247 1e248 1e249 1e250 1e251 1e252 1e253 1e254 1e255
        1e256 1e257 1e258 1e259 1e260 1e261 1e262 1e263 1e264 1e265 1e266 1e267 1e268 1e269
        1e270 1e271 1e272 1e273 1e274 1e275 1e276 1e277 1e278 1e279 1e280 1e281 1e282 1e283
        1e284 1e285 1e286 1e287 1e288 1e289 1e290 1e291 1e292 1e293 1e294 1e295 1e296 1e297
        1e298 1e299 1e300 1e301 1e302 1e303 1e304 1e305 1e306 1e307 1e308)
};

#[cfg(test)]
mod tests {
    use super::*;

    fn num(s: &str) -> Num {
        match parse(s.as_bytes()).unwrap() {
            Json::Num(n) => n,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn integers_keep_their_kind() {
        assert_eq!(num("0"), Num::Int(0));
        assert_eq!(num("-2147483648"), Num::Int(-2147483648));
        assert_eq!(num("4294967296"), Num::Int(4294967296));
        assert_eq!(num("-9223372036854775808"), Num::Int(i64::MIN));
        assert_eq!(num("18446744073709551615"), Num::UInt(u64::MAX));
        assert_eq!(num("1.0"), Num::Double(1.0));
        assert_eq!(num("1e2"), Num::Double(100.0));
    }

    #[test]
    fn normal_precision_is_not_always_correctly_rounded() {
        // Values correctionlib 2.9 gives for these texts (the nearest doubles are
        // 2.1368500568277587e-23 and 9.549463472018792e-26).
        assert_eq!(
            num("2.1368500568277588e-23"),
            Num::Double(2.136850056827759e-23)
        );
        assert_eq!(
            num("9.5494634720187923e-26"),
            Num::Double(9.549463472018791e-26)
        );
        assert_eq!(num("1.7976931348623157e308"), Num::Double(f64::MAX));
        assert_eq!(num("-Infinity"), Num::Double(f64::NEG_INFINITY));
    }

    #[test]
    fn syntax_errors_say_where() {
        let e = parse(b"{\"a\": [1, 2,]}").unwrap_err();
        assert_eq!(e.offset, 12);
        assert!(parse(b"[1.]").is_err());
        assert!(parse(b"\"\\ud800\"").is_err());
        assert!(parse(&b"[".repeat(10_000)).is_err());
        assert_eq!(
            parse(b" {\"k\": \"\\u00e9\\n\"} ").unwrap().get("k"),
            Some(&Json::Str("é\n".into()))
        );
    }
}
