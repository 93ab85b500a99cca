//! Reading a partial's payload (the JSON of an [`Accumulator`], laid out as
//! [`crate::layout`] says) without building every bin's canonical sum: for readers that add
//! many payloads, as casa-merge does.
//!
//! serde_json reads the payload at ~270 MB/s and builds canonical sums bin by bin; a merge
//! needs neither. This reader walks the layout (`{"datasets": {ds: {name: {"Hist": {"spec",
//! "storage": {"kind", "ints", "sums": [{"values", "second", "rest"}], "variance_known"}}} |
//! {"Counter": ...}}}, "float_rest": ...}`) into [`StorageLayout`]s, decodes packed sums
//! (format 1.1) with [`crate::packed`], parses the numbers of format 1.0 with `fast-float2`
//! (correctly rounded, as serde_json's `float_roundtrip`) and keeps each histogram's spec as
//! text (equal text, equal axes). Counters go through serde as they are. [`read`] hands a
//! payload this reader does not expect to serde instead, so an unusual but valid payload is
//! read all the same, only slower.

use std::borrow::Cow;

use casa_histspec::{HistSpec, StorageKind};

use crate::accumulator::{Accumulator, Item};
use crate::error::HistError;
use crate::hist::Hist;
use crate::layout::{special_float, Doubles, Rest, StorageLayout, SumsLayout};
use crate::packed;

/// A histogram as the payload holds it: its spec as JSON text, and its storage.
#[derive(Clone, Debug, PartialEq)]
pub struct HistLayout {
    /// The `spec` object exactly as serialised: equal text means identical axes.
    pub spec: String,
    pub storage: StorageLayout,
}

/// A payload taken apart: every dataset (also empty ones), the histograms (dataset, name,
/// layout) in payload order, and the counters as an accumulator of counters only.
#[derive(Clone, Debug, Default)]
pub struct Payload {
    pub datasets: Vec<String>,
    pub hists: Vec<(String, String, HistLayout)>,
    pub counters: Accumulator,
}

/// Why a payload cannot be read (the position, or serde's words).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PayloadError(pub String);

/// Reads a payload: the fast reader, or serde when the fast reader does not expect it.
pub fn read(json: &[u8]) -> Result<Payload, PayloadError> {
    match read_fast(json) {
        Ok(p) => Ok(p),
        Err(_) => {
            let acc: Accumulator =
                serde_json::from_slice(json).map_err(|e| PayloadError(e.to_string()))?;
            Ok(Payload::from_accumulator(acc))
        }
    }
}

impl Payload {
    /// Takes an accumulator apart (the slow path of [`read`]).
    pub fn from_accumulator(mut acc: Accumulator) -> Payload {
        let mut p = Payload::default();
        for (ds, items) in acc.datasets.iter_mut() {
            p.datasets.push(ds.clone());
            let names: Vec<String> = items
                .iter()
                .filter(|(_, i)| matches!(i, Item::Hist(_)))
                .map(|(n, _)| n.clone())
                .collect();
            for name in names {
                if let Some(Item::Hist(h)) = items.remove(&name) {
                    let layout = h.layout();
                    p.hists.push((ds.clone(), name, layout));
                }
            }
        }
        p.counters = acc;
        p
    }
}

impl HistLayout {
    /// The histogram (its sums brought to canonical form).
    pub fn to_hist(&self) -> Result<Hist, HistError> {
        Hist::from_layout(self.parse_spec()?, self.storage.clone())
    }

    /// Like [`HistLayout::to_hist`], taking the storage.
    pub fn into_hist(self) -> Result<Hist, HistError> {
        let spec = self.parse_spec()?;
        Hist::from_layout(spec, self.storage)
    }

    fn parse_spec(&self) -> Result<HistSpec, HistError> {
        serde_json::from_str(&self.spec).map_err(|e| HistError::InvalidSpec {
            reason: format!("unreadable spec: {e}"),
        })
    }
}

impl Hist {
    /// The histogram as a payload holds it (its spec as the text it serialises to).
    pub fn layout(&self) -> HistLayout {
        HistLayout {
            spec: serde_json::to_string(self.spec()).expect("a spec serialises"),
            storage: self.storage_layout(),
        }
    }
}

/// The fast reader alone, without the fallback to serde (public for the tests, which must see
/// it fail).
pub fn read_fast(json: &[u8]) -> Result<Payload, PayloadError> {
    read_fast_inner(json).map_err(PayloadError)
}

fn read_fast_inner(json: &[u8]) -> Result<Payload, String> {
    let mut p = P { b: json, i: 0 };
    let mut out = Payload::default();
    // Counters (and float counters' exact remainders) are rebuilt as a small JSON accumulator.
    let mut counters = String::new();
    let mut float_rest: Option<&[u8]> = None;
    p.eat(b'{')?;
    let mut first = true;
    while let Some(key) = p.next_key(&mut first)? {
        match &*key {
            "datasets" => {
                p.eat(b'{')?;
                let mut f1 = true;
                while let Some(ds) = p.next_key(&mut f1)? {
                    let ds = ds.into_owned();
                    out.datasets.push(ds.clone());
                    let mut ds_counters = String::new();
                    p.eat(b'{')?;
                    let mut f2 = true;
                    while let Some(name) = p.next_key(&mut f2)? {
                        let name = name.into_owned();
                        p.eat(b'{')?;
                        let mut f3 = true;
                        let kind = p.next_key(&mut f3)?.ok_or("an item with no kind")?;
                        match &*kind {
                            "Hist" => {
                                let h = p.hist()?;
                                out.hists.push((ds.clone(), name, h));
                            }
                            "Counter" => {
                                let raw = p.skip_value()?;
                                if !ds_counters.is_empty() {
                                    ds_counters.push(',');
                                }
                                ds_counters.push_str(&json_string(&name));
                                ds_counters.push(':');
                                ds_counters.push_str("{\"Counter\":");
                                ds_counters.push_str(utf8(raw)?);
                                ds_counters.push('}');
                            }
                            other => return Err(format!("unknown item kind {other:?}")),
                        }
                        if p.next_key(&mut f3)?.is_some() {
                            return Err("an item with two kinds".into());
                        }
                    }
                    if !ds_counters.is_empty() {
                        if !counters.is_empty() {
                            counters.push(',');
                        }
                        counters.push_str(&json_string(&ds));
                        counters.push_str(":{");
                        counters.push_str(&ds_counters);
                        counters.push('}');
                    }
                }
            }
            "float_rest" => float_rest = Some(p.skip_value()?),
            _ => {
                p.skip_value()?;
            }
        }
    }
    p.end()?;
    if !counters.is_empty() || float_rest.is_some() {
        let text = format!(
            "{{\"datasets\":{{{counters}}},\"float_rest\":{}}}",
            utf8(float_rest.unwrap_or(b"{}"))?
        );
        out.counters = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

fn utf8(b: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(b).map_err(|e| e.to_string())
}

/// A pull reader over JSON bytes.
struct P<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> P<'a> {
    #[inline]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    #[inline]
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.i))
    }

    #[inline]
    fn eat(&mut self, c: u8) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            self.err(&format!("expected `{}`", c as char))
        }
    }

    fn end(&mut self) -> Result<(), String> {
        match self.peek() {
            None => Ok(()),
            Some(_) => self.err("trailing bytes"),
        }
    }

    /// The next key of an object whose `{` was eaten, or `None` after its `}`.
    fn next_key(&mut self, first: &mut bool) -> Result<Option<Cow<'a, str>>, String> {
        match self.peek() {
            Some(b'}') => {
                self.i += 1;
                return Ok(None);
            }
            Some(b',') if !*first => self.i += 1,
            Some(_) if *first => {}
            _ => return self.err("expected `,` or `}`"),
        }
        *first = false;
        let k = self.string()?;
        self.eat(b':')?;
        Ok(Some(k))
    }

    /// Whether another element follows in an array whose `[` was eaten.
    #[inline]
    fn next_elem(&mut self, first: &mut bool) -> Result<bool, String> {
        match self.peek() {
            Some(b']') => {
                self.i += 1;
                Ok(false)
            }
            Some(b',') if !*first => {
                self.i += 1;
                Ok(true)
            }
            Some(_) if *first => {
                *first = false;
                Ok(true)
            }
            _ => self.err("expected `,` or `]`"),
        }
    }

    fn string(&mut self) -> Result<Cow<'a, str>, String> {
        self.eat(b'"')?;
        let start = self.i;
        // The common case: no escapes.
        while let Some(&c) = self.b.get(self.i) {
            match c {
                b'"' => {
                    let s = utf8(&self.b[start..self.i])?;
                    self.i += 1;
                    return Ok(Cow::Borrowed(s));
                }
                b'\\' => break,
                _ => self.i += 1,
            }
        }
        // With escapes: let serde_json decode the whole string.
        self.i = start - 1;
        let raw = self.skip_string()?;
        serde_json::from_slice::<String>(raw)
            .map(Cow::Owned)
            .map_err(|e| e.to_string())
    }

    /// Skips a string (at its `"`), returning it with its quotes.
    fn skip_string(&mut self) -> Result<&'a [u8], String> {
        let start = self.i;
        self.eat(b'"')?;
        // memchr: packed sums are strings of hundreds of kilobytes.
        while let Some(k) = (self.b.get(self.i..)).and_then(|r| memchr::memchr2(b'"', b'\\', r)) {
            let c = self.b[self.i + k];
            self.i += k + 1;
            if c == b'"' {
                return Ok(&self.b[start..self.i]);
            }
            self.i += 1; // the escaped character
        }
        self.i = self.b.len();
        self.err("unterminated string")
    }

    /// Skips any value, returning its text.
    fn skip_value(&mut self) -> Result<&'a [u8], String> {
        self.ws();
        let start = self.i;
        match self.b.get(self.i) {
            Some(b'"') => {
                self.skip_string()?;
            }
            Some(b'{' | b'[') => {
                let mut depth = 0usize;
                loop {
                    match self.b.get(self.i) {
                        None => return self.err("unterminated value"),
                        Some(b'"') => {
                            self.skip_string()?;
                            continue;
                        }
                        Some(b'{' | b'[') => depth += 1,
                        Some(b'}' | b']') => {
                            depth -= 1;
                            if depth == 0 {
                                self.i += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    self.i += 1;
                }
            }
            Some(_) => {
                while let Some(&c) = self.b.get(self.i) {
                    if matches!(c, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') {
                        break;
                    }
                    self.i += 1;
                }
                if self.i == start {
                    return self.err("expected a value");
                }
            }
            None => return self.err("expected a value"),
        }
        Ok(&self.b[start..self.i])
    }

    /// A double as casa-hist writes it: a number, or "nan", "inf", "-inf".
    #[inline]
    fn f64(&mut self) -> Result<f64, String> {
        if self.peek() == Some(b'"') {
            let raw = self.skip_string()?;
            let text = utf8(&raw[1..raw.len() - 1])?;
            return special_float(text).map_or_else(|| self.err("expected a number"), Ok);
        }
        match fast_float2::parse_partial::<f64, _>(&self.b[self.i..]) {
            Ok((x, n)) if n > 0 => {
                self.i += n;
                Ok(x)
            }
            _ => self.err("expected a number"),
        }
    }

    fn i64(&mut self) -> Result<i64, String> {
        self.ws();
        let neg = self.b.get(self.i) == Some(&b'-');
        if neg {
            self.i += 1;
        }
        let start = self.i;
        let mut v: i64 = 0;
        while let Some(&c) = self.b.get(self.i) {
            if !c.is_ascii_digit() {
                break;
            }
            // Accumulate negatively: i64::MIN has no positive counterpart.
            v = match v
                .checked_mul(10)
                .and_then(|v| v.checked_sub(i64::from(c - b'0')))
            {
                Some(v) => v,
                None => return self.err("integer out of range"),
            };
            self.i += 1;
        }
        if self.i == start {
            return self.err("expected an integer");
        }
        if neg {
            Ok(v)
        } else {
            v.checked_neg()
                .map_or_else(|| self.err("integer out of range"), Ok)
        }
    }

    fn bool(&mut self) -> Result<bool, String> {
        match self.skip_value()? {
            b"true" => Ok(true),
            b"false" => Ok(false),
            _ => self.err("expected true or false"),
        }
    }

    /// `[x, ...]` of doubles into `out`.
    fn f64s(&mut self, out: &mut Vec<f64>) -> Result<(), String> {
        self.eat(b'[')?;
        let mut first = true;
        while self.next_elem(&mut first)? {
            out.push(self.f64()?);
        }
        Ok(())
    }

    /// A serialised [`Hist`]: its spec as text, its storage as [`StorageLayout`].
    fn hist(&mut self) -> Result<HistLayout, String> {
        let mut spec = None;
        let mut kind = None;
        let mut ints = Vec::new();
        let mut sums = Vec::new();
        let mut variance_known = true;
        self.eat(b'{')?;
        let mut f = true;
        while let Some(key) = self.next_key(&mut f)? {
            match &*key {
                "spec" => spec = Some(utf8(self.skip_value()?)?.to_string()),
                "storage" => {
                    self.eat(b'{')?;
                    let mut g = true;
                    while let Some(key) = self.next_key(&mut g)? {
                        match &*key {
                            "kind" => {
                                let k = self.string()?;
                                kind = Some(
                                    StorageKind::from_name(&k)
                                        .map_or_else(|| self.err("unknown storage kind"), Ok)?,
                                );
                            }
                            "ints" => {
                                self.eat(b'[')?;
                                let mut h = true;
                                while self.next_elem(&mut h)? {
                                    ints.push(self.i64()?);
                                }
                            }
                            "sums" => {
                                self.eat(b'[')?;
                                let mut h = true;
                                while self.next_elem(&mut h)? {
                                    sums.push(self.sums()?);
                                }
                            }
                            "variance_known" => variance_known = self.bool()?,
                            _ => {
                                self.skip_value()?;
                            }
                        }
                    }
                }
                _ => {
                    self.skip_value()?;
                }
            }
        }
        let (Some(spec), Some(kind)) = (spec, kind) else {
            return self.err("a histogram without spec or storage kind");
        };
        Ok(HistLayout {
            spec,
            storage: StorageLayout {
                kind,
                ints,
                sums,
                variance_known,
            },
        })
    }

    /// The bytes of a string without escapes (base64 has none), at its `"`.
    fn raw_string(&mut self) -> Result<&'a [u8], String> {
        self.eat(b'"')?;
        let start = self.i;
        match (self.b.get(start..)).and_then(|r| memchr::memchr2(b'"', b'\\', r)) {
            Some(k) if self.b[start + k] == b'"' => {
                self.i = start + k + 1;
                Ok(&self.b[start..start + k])
            }
            Some(_) => self.err("an escape in a packed string"),
            None => self.err("unterminated string"),
        }
    }

    /// `{"values": "packed", "second": "packed", "rest": "packed"}` (format 1.1, see
    /// [`crate::packed`]), or `{"values": [...], "rest": [[bin, [parts]], ...]}` (1.0).
    fn sums(&mut self) -> Result<SumsLayout, String> {
        let mut values = Vec::new();
        let mut second = Vec::new();
        let mut rest = Vec::new();
        self.eat(b'{')?;
        let mut f = true;
        while let Some(key) = self.next_key(&mut f)? {
            match &*key {
                k @ ("values" | "second") if self.peek() == Some(b'"') => {
                    let text = self.raw_string()?;
                    let out = if k == "values" {
                        &mut values
                    } else {
                        &mut second
                    };
                    packed::decode_doubles_into(text, out).map_err(|e| e.to_string())?;
                }
                "rest" if self.peek() == Some(b'"') => {
                    let text = self.raw_string()?;
                    rest = packed::decode_rest(text).map_err(|e| e.to_string())?;
                }
                "values" => self.f64s(&mut values)?,
                "rest" => {
                    self.eat(b'[')?;
                    let mut g = true;
                    while self.next_elem(&mut g)? {
                        self.eat(b'[')?;
                        let bin = usize::try_from(self.i64()?).or_else(|_| self.err("bad bin"))?;
                        self.eat(b',')?;
                        let mut parts = Vec::new();
                        self.f64s(&mut parts)?;
                        self.eat(b']')?;
                        rest.push((bin, parts));
                    }
                }
                _ => {
                    self.skip_value()?;
                }
            }
        }
        if rest.iter().any(|(b, _)| *b >= values.len()) {
            return self.err("a remainder for a bin that does not exist");
        }
        if !second.is_empty() && second.len() != values.len() {
            return self.err("second doubles for another number of bins");
        }
        Ok(SumsLayout {
            values: Doubles(values),
            second: Doubles(second),
            rest: Rest(rest),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FillArg, Weights};

    fn acc() -> Accumulator {
        let spec: HistSpec = serde_json::from_str(
            r#"{"axes": [{"type": "regular", "bins": 4, "start": 0, "stop": 4, "name": "x"}],
                "storage": "weight"}"#,
        )
        .unwrap();
        let mut a = Accumulator::new();
        let h = a.hist_mut("D", "h", &spec).unwrap();
        // Weights whose sums need a second double and more.
        h.fill(
            &[FillArg::F64(&[0.5, 0.5, 1.5, 2.5, 0.5])],
            Some(Weights::Each(&[0.1, 1e-20, 0.7, 1e17, 3e-40])),
            None,
        )
        .unwrap();
        a.count("D", "n", crate::Counter::Int(5)).unwrap();
        a.datasets.entry("Empty".into()).or_default();
        a
    }

    /// The fast reader gives serde's histograms, counters and datasets, for the packed form
    /// and for text with whitespace.
    #[test]
    fn the_fast_reader_reads_what_serde_reads() {
        let a = acc();
        for text in [
            serde_json::to_vec(&a).unwrap(),
            serde_json::to_vec_pretty(&a).unwrap(),
        ] {
            let p = read_fast(&text).unwrap();
            assert_eq!(p.datasets, ["D", "Empty"]);
            assert_eq!(p.hists.len(), 1);
            let (ds, name, h) = &p.hists[0];
            assert_eq!((ds.as_str(), name.as_str()), ("D", "h"));
            let Some(Item::Hist(want)) = a.datasets["D"].get("h") else {
                panic!("no histogram")
            };
            assert_eq!(&h.to_hist().unwrap(), want);
            assert_eq!(h.storage, want.storage_layout());
            assert_eq!(p.counters.datasets["D"].get("n"), a.datasets["D"].get("n"));
        }
        // The compact spec text is the one the histogram serialises to.
        let p = read_fast(&serde_json::to_vec(&a).unwrap()).unwrap();
        let Some(Item::Hist(want)) = a.datasets["D"].get("h") else {
            panic!("no histogram")
        };
        assert_eq!(p.hists[0].2, want.layout());
    }

    #[test]
    fn malformed_payloads_are_refused() {
        let a = acc();
        let text = serde_json::to_vec(&a).unwrap();
        for bad in [
            &b"{\"datasets\": {\"D\": {\"h\": {\"Other\": 1}}}}"[..],
            b"[1, 2]",
            &text[..text.len() - 1],
        ] {
            assert!(read_fast(bad).is_err(), "{}", String::from_utf8_lossy(bad));
            assert!(read(bad).is_err());
        }
        let p = read(&text).unwrap();
        assert_eq!(p.hists.len(), 1);
    }
}
