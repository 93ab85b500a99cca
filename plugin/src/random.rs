//! Reproducible random numbers: a counter-based generator (Philox4x32-10, Salmon et al.,
//! "Parallel random numbers: as easy as 1, 2, 3", SC11) keyed by the file's UUID and a stream
//! name, counted by the event's entry number in its file and the object's index. A draw
//! depends on nothing else, so a smeared value is the same however the fileset is chunked,
//! batched or retried, and in whichever job the event is processed.
//!
//! The algorithm is written out here (and in `casa_plugin.h`, so C and C++ plugins draw the same
//! numbers) rather than taken from a crate: it is thirty lines pinned by the Random123
//! known-answer vectors, and the C header must carry the identical definition.
//!
//! Definition (version 1 of casa's keying; changing any of it changes every draw):
//! - key: the 64-bit FNV-1a hash of the UUID's bytes, one 0xFF byte, and the stream name's
//!   bytes; low 32 bits are key word 0, high 32 bits key word 1;
//! - counter of a draw: `[entry low 32 bits, entry high 32 bits, object index, 0]`;
//! - uniform: the block's words 0 and 1 as `(w0 << 32 | w1) >> 12` = x, then
//!   `(x + 0.5) · 2⁻⁵²`, in (0, 1);
//! - normal: Box–Muller with u1 from words 0, 1 and u2 from words 2, 3 (each as above):
//!   `sqrt(-2 ln u1) · cos(2π u2)`.
//!
//! ```
//! # use casa_plugin::testing::TestBatch;
//! let b = TestBatch::new(2).entry_start(1000).file_uuid("9f1c0a2e-0000-11ee-8000-0123456789ab");
//! let ev = b.events();
//! let jer = ev.rng("jer");
//! // A 5% resolution smearing of object 0 of event 1 (file entry 1001):
//! let factor = 1.0 + 0.05 * jer.normal(1, 0);
//! // The same event in another batch (or job) draws the same number.
//! let other = TestBatch::new(1).entry_start(1001).file_uuid("9f1c0a2e-0000-11ee-8000-0123456789ab");
//! assert_eq!(other.events().rng("jer").normal(0, 0), jer.normal(1, 0));
//! assert!(factor > 0.5 && factor < 1.5);
//! ```

use crate::{Collection, Events};

const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

#[inline(always)]
fn mulhilo(a: u32, b: u32) -> (u32, u32) {
    let p = a as u64 * b as u64;
    ((p >> 32) as u32, p as u32)
}

/// The Philox4x32 block function with 10 rounds.
///
/// ```
/// use casa_plugin::random::philox4x32_10;
/// // Random123's known-answer vector for zero counter and key.
/// assert_eq!(philox4x32_10([0; 4], [0; 2]), [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
/// ```
#[inline]
pub fn philox4x32_10(ctr: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let (mut c, mut k) = (ctr, key);
    for round in 0..10 {
        if round > 0 {
            k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
        }
        let (hi0, lo0) = mulhilo(M0, c[0]);
        let (hi1, lo1) = mulhilo(M1, c[2]);
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0];
    }
    c
}

/// 64-bit FNV-1a over a sequence of bytes.
fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The key of a stream: FNV-1a of `uuid`, a 0xFF byte and `stream` (0xFF never occurs in
/// UTF-8, so `("ab", "c")` and `("a", "bc")` differ).
fn key_of(uuid: &str, stream: &str) -> [u32; 2] {
    let h = fnv1a(
        uuid.bytes()
            .chain(std::iter::once(0xFF))
            .chain(stream.bytes()),
    );
    [h as u32, (h >> 32) as u32]
}

#[inline(always)]
fn unit(hi: u32, lo: u32) -> f64 {
    // 52 bits, so that x + 0.5 is exact and the largest value stays below 1.
    let x = ((hi as u64) << 32 | lo as u64) >> 12;
    (x as f64 + 0.5) * (1.0 / (1u64 << 52) as f64)
}

/// A stream of random numbers for one file, addressed by (event, object).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rng {
    key: [u32; 2],
    entry_start: u64,
}

impl Rng {
    /// The stream `stream` of the file `file_uuid`, addressed by file entry number: event `i`
    /// of the methods below is entry `i`. Inside `process`, [`Events::rng`] is the same stream
    /// addressed by the batch's event index.
    ///
    /// ```
    /// use casa_plugin::random::Rng;
    /// let a = Rng::new("some-uuid", "jer");
    /// assert_ne!(a.uniform(0, 0), Rng::new("some-uuid", "jes").uniform(0, 0));
    /// assert_ne!(a.uniform(0, 0), a.uniform(1, 0));
    /// assert_ne!(a.uniform(0, 0), a.uniform(0, 1));
    /// ```
    pub fn new(file_uuid: &str, stream: &str) -> Rng {
        Rng {
            key: key_of(file_uuid, stream),
            entry_start: 0,
        }
    }

    /// The four random words of event `i`, object `j`.
    #[inline]
    pub fn block(&self, i: usize, j: u32) -> [u32; 4] {
        let e = self.entry_start + i as u64;
        philox4x32_10([e as u32, (e >> 32) as u32, j, 0], self.key)
    }

    /// A uniform number in (0, 1) for event `i`, object `j` (use `j = 0` for per-event draws).
    ///
    /// ```
    /// use casa_plugin::random::Rng;
    /// let r = Rng::new("uuid", "s");
    /// let n = 100_000;
    /// let mean = (0..n).map(|e| r.uniform(e, 0)).sum::<f64>() / n as f64;
    /// assert!((mean - 0.5).abs() < 0.005);
    /// ```
    #[inline]
    pub fn uniform(&self, i: usize, j: u32) -> f64 {
        let w = self.block(i, j);
        unit(w[0], w[1])
    }

    /// A standard normal number for event `i`, object `j`.
    ///
    /// ```
    /// use casa_plugin::random::Rng;
    /// let r = Rng::new("uuid", "jer");
    /// let n = 100_000;
    /// let x: Vec<f64> = (0..n).map(|e| r.normal(e, 3)).collect();
    /// let mean = x.iter().sum::<f64>() / n as f64;
    /// let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
    /// assert!(mean.abs() < 0.02 && (var - 1.0).abs() < 0.02);
    /// ```
    #[inline]
    pub fn normal(&self, i: usize, j: u32) -> f64 {
        let w = self.block(i, j);
        let (u1, u2) = (unit(w[0], w[1]), unit(w[2], w[3]));
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

impl Rng {
    /// A standard normal number for every object of a collection: event `i`, object `j` of
    /// the event at the object's global index (a jet resolution smearing per jet).
    ///
    /// ```
    /// # use casa_plugin::testing::TestBatch;
    /// let b = TestBatch::new(2).jagged("Jet_pt", &[&[50.0f32, 40.0][..], &[30.0]]);
    /// let ev = b.events();
    /// let r = ev.rng("jer").normals(&ev.collection("Jet").unwrap());
    /// assert_eq!(r, [ev.rng("jer").normal(0, 0), ev.rng("jer").normal(0, 1), ev.rng("jer").normal(1, 0)]);
    /// ```
    pub fn normals(&self, objects: &Collection<'_>) -> Vec<f64> {
        let mut out = Vec::with_capacity(objects.n_objects());
        for i in 0..objects.len() {
            out.extend((0..objects.count(i) as u32).map(|j| self.normal(i, j)));
        }
        out
    }
}

impl Events<'_> {
    /// The random stream `stream` for this batch: event `i` of the batch is its file entry
    /// `entry_start + i`, so draws do not depend on how the file was cut into batches.
    ///
    /// ```
    /// # use casa_plugin::testing::TestBatch;
    /// let whole = TestBatch::new(10).file_uuid("u");
    /// let tail = TestBatch::new(4).entry_start(6).file_uuid("u");
    /// let (a, b) = (whole.events(), tail.events());
    /// assert_eq!(a.rng("x").normal(7, 2), b.rng("x").normal(1, 2));
    /// ```
    pub fn rng(&self, stream: &str) -> Rng {
        Rng {
            key: key_of(self.file_uuid, stream),
            entry_start: self.entry_start,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Random123 distribution's known-answer vectors for philox4x32, 10 rounds
    /// (kat_vectors: counter, key, expected output).
    #[test]
    fn philox_known_answers() {
        let kat: [([u32; 4], [u32; 2], [u32; 4]); 3] = [
            (
                [0, 0, 0, 0],
                [0, 0],
                [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
            ),
            (
                [u32::MAX; 4],
                [u32::MAX; 2],
                [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
            ),
            (
                [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
                [0xa4093822, 0x299f31d0],
                [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
            ),
        ];
        for (ctr, key, want) in kat {
            assert_eq!(philox4x32_10(ctr, key), want, "ctr {ctr:x?} key {key:x?}");
        }
    }

    #[test]
    fn fnv1a_matches_its_published_values() {
        // Test vectors of the FNV reference (Fowler, Noll, Vo).
        assert_eq!(fnv1a(*b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(*b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a(*b"foobar"), 0x85944171f73967e8);
        let k = key_of("ab", "c");
        assert_eq!(k, {
            let h = fnv1a(*b"ab\xffc");
            [h as u32, (h >> 32) as u32]
        });
        assert_ne!(k, key_of("a", "bc"));
    }

    #[test]
    fn entries_above_32_bits_use_the_high_counter_word() {
        let r = Rng::new("u", "s");
        assert_ne!(r.uniform(1 << 32, 0), r.uniform(0, 0));
        let w = r.block(1 << 32, 7);
        assert_eq!(w, philox4x32_10([0, 1, 7, 0], key_of("u", "s")));
    }

    #[test]
    fn uniforms_stay_inside_the_open_interval() {
        assert!(unit(0, 0) > 0.0);
        assert!(unit(u32::MAX, u32::MAX) < 1.0);
    }
}
