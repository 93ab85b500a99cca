//! A partial's payload into the merge's fast form. The layout is casa-hist's
//! (`casa_hist::payload` reads it, `casa_hist::layout` defines it); this module only hands
//! each histogram to [`MergeAcc`], which keeps the finite ones in its fast exact sums.

use casa_hist::payload::{self as layout_reader, Payload};

use crate::acc::{AccError, MergeAcc};

/// Reads a payload; `origin` is the input's index (kept for error messages).
pub fn parse(json: &[u8], origin: usize) -> Result<MergeAcc, AccError> {
    let p = layout_reader::read(json)?;
    MergeAcc::from_payload(p, origin)
}

/// The fast reader alone, without the fallback to serde (public for the tests, which must see
/// it fail).
#[doc(hidden)]
pub fn parse_fast(json: &[u8], origin: usize) -> Result<MergeAcc, AccError> {
    let p: Payload = layout_reader::read_fast(json)?;
    MergeAcc::from_payload(p, origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_payload_says_what_casa_hists_reader_says() {
        let bad = br#"{"datasets": {"DY": {"n": 1"#;
        let e = parse(bad, 0).unwrap_err();
        let want = layout_reader::read(bad).unwrap_err();
        assert!(matches!(&e, AccError::Payload(p) if *p == want), "{e:?}");
        assert_eq!(e.to_string(), want.to_string());
    }
}
