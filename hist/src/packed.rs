//! The packed form of a storage's exact sums in a serialised histogram (partial format 1.1).
//!
//! A weighted histogram's sums are non-integer doubles: as JSON numbers each takes ~20 bytes
//! of text and ~40 ns to parse back, which made reading partials 90% of a large merge. Packed,
//! a list of doubles is one JSON string, the standard base64 (with padding) of their
//! little-endian IEEE-754 bytes: exact by construction (no decimal round trip), non-finite
//! values included, and decoded at memory speed. A bin's exact sum is its `values` double, its
//! `second` double (a dense list like `values`, left empty when every bin is one double, as
//! for unit weights) and, for the rare bins that need more, remainders packed as records
//! `u32 bin, u32 n, n doubles` (all little-endian), in bin order.
//!
//! `casa-merge` reads the same strings with these functions, so the layout lives here only.

// base64-simd: decoding runs at several GB/s (the scalar `base64` crate made it a sixth of a
// large merge).
use base64_simd::STANDARD;

/// Why a packed string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackedError {
    #[error("packed doubles are not valid base64: {0}")]
    Base64(String),
    #[error("packed doubles: {0} bytes is not a whole number of 8-byte doubles")]
    Length(usize),
    #[error("packed bin remainders end inside a record at byte {0}")]
    Record(usize),
}

/// Base64 of the doubles' little-endian bytes.
pub fn encode_doubles(xs: &[f64]) -> String {
    let mut bytes = Vec::with_capacity(xs.len() * 8);
    for x in xs {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    STANDARD.encode_to_string(bytes)
}

/// The doubles of [`encode_doubles`], appended to `out`.
pub fn decode_doubles_into(text: &[u8], out: &mut Vec<f64>) -> Result<(), PackedError> {
    let bytes = STANDARD
        .decode_to_vec(text)
        .map_err(|e| PackedError::Base64(e.to_string()))?;
    if bytes.len() % 8 != 0 {
        return Err(PackedError::Length(bytes.len()));
    }
    out.reserve(bytes.len() / 8);
    out.extend(
        bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))),
    );
    Ok(())
}

/// Records `u32 bin, u32 n, n doubles` for every `(bin, parts)`, base64 encoded.
pub fn encode_rest(rest: &[(usize, Vec<f64>)]) -> String {
    let mut bytes = Vec::with_capacity(rest.iter().map(|(_, p)| 8 + 8 * p.len()).sum());
    for (bin, parts) in rest {
        let bin = u32::try_from(*bin).expect("a histogram has fewer than 2^32 bins");
        let n = u32::try_from(parts.len()).expect("an expansion has fewer than 2^32 parts");
        bytes.extend_from_slice(&bin.to_le_bytes());
        bytes.extend_from_slice(&n.to_le_bytes());
        for x in parts {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
    }
    STANDARD.encode_to_string(bytes)
}

/// The `(bin, parts)` of [`encode_rest`].
pub fn decode_rest(text: &[u8]) -> Result<Vec<(usize, Vec<f64>)>, PackedError> {
    let bytes = STANDARD
        .decode_to_vec(text)
        .map_err(|e| PackedError::Base64(e.to_string()))?;
    let mut out = Vec::new();
    let mut i = 0;
    let u32_at = |i: usize| -> Option<u32> {
        Some(u32::from_le_bytes(bytes.get(i..i + 4)?.try_into().ok()?))
    };
    while i < bytes.len() {
        let (Some(bin), Some(n)) = (u32_at(i), u32_at(i + 4)) else {
            return Err(PackedError::Record(i));
        };
        let start = i + 8;
        let end = (n as usize)
            .checked_mul(8)
            .and_then(|len| start.checked_add(len))
            .filter(|&end| end <= bytes.len())
            .ok_or(PackedError::Record(i))?;
        let parts = bytes[start..end]
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
        out.push((bin as usize, parts));
        i = end;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_round_trip_bit_for_bit() {
        let xs = [
            0.0,
            -0.0,
            1.0 / 3.0,
            f64::MIN_POSITIVE / 7.0,
            f64::MAX,
            f64::INFINITY,
            f64::NAN,
        ];
        let mut back = Vec::new();
        decode_doubles_into(encode_doubles(&xs).as_bytes(), &mut back).unwrap();
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back), bits(&xs));
        assert_eq!(encode_doubles(&[]), "");
    }

    #[test]
    fn rest_round_trips_and_truncation_is_named() {
        let rest = vec![(0, vec![1e-17]), (7, vec![]), (70_000, vec![2e-33, -4e-50])];
        let text = encode_rest(&rest);
        assert_eq!(decode_rest(text.as_bytes()).unwrap(), rest);
        assert_eq!(decode_rest(b"").unwrap(), vec![]);
        // One record claiming two doubles but carrying one.
        let short = STANDARD.encode_to_string([0u8, 0, 0, 0, 2, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(decode_rest(short.as_bytes()), Err(PackedError::Record(0)));
        assert!(matches!(
            decode_rest(b"*not base64*"),
            Err(PackedError::Base64(_))
        ));
        let mut v = Vec::new();
        assert_eq!(
            decode_doubles_into(STANDARD.encode_to_string([1u8, 2, 3]).as_bytes(), &mut v),
            Err(PackedError::Length(3))
        );
    }
}
