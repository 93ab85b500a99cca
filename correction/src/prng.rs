//! HashPRNG: a pseudorandom number that is a pure function of some inputs.
//!
//! The algorithm is correctionlib's, so that the same inputs give the same bits: the inputs'
//! 64-bit patterns (an integer as its two's complement, a real as its IEEE-754 bits), laid out
//! little-endian one after the other, are hashed with XXH64 (seed 0); the hash seeds a
//! PCG32 generator (`pcg32_oneseq`: 64-bit LCG state, XSH-RR output, previous-state output);
//! the distribution then draws from it as the C++ standard library (GNU libstdc++) does.

use crate::libm;

const MULTIPLIER: u64 = 6_364_136_223_846_793_005;
const INCREMENT: u64 = 1_442_695_040_888_963_407;

/// PCG32, single stream.
pub(crate) struct Pcg32 {
    state: u64,
}

impl Pcg32 {
    /// `pcg32_oneseq(seed)`: the state is one LCG step from `seed + increment`.
    pub(crate) fn new(seed: u64) -> Self {
        Pcg32 {
            state: seed
                .wrapping_add(INCREMENT)
                .wrapping_mul(MULTIPLIER)
                .wrapping_add(INCREMENT),
        }
    }

    /// Next 32-bit output, computed from the state before the step.
    pub(crate) fn next_u32(&mut self) -> u32 {
        let old = self.state;
        self.state = old.wrapping_mul(MULTIPLIER).wrapping_add(INCREMENT);
        let rot = (old >> 59) as u32;
        let x = ((old ^ (old >> 18)) >> 27) as u32;
        x.rotate_right(rot)
    }

    /// libstdc++'s `generate_canonical<double, 53>`: two 32-bit draws, the second one
    /// weighted by 2^32, summed in double and scaled by 2^-64; 1.0 becomes the double below.
    pub(crate) fn canonical(&mut self) -> f64 {
        const TWO32: f64 = 4_294_967_296.0;
        let mut sum = f64::from(self.next_u32());
        sum += f64::from(self.next_u32()) * TWO32;
        let r = sum / (TWO32 * TWO32);
        if r >= 1.0 {
            1.0 - f64::EPSILON / 2.0
        } else {
            r
        }
    }
}

/// The distribution a HashPRNG node draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Distribution {
    /// Uniform in [0, 1): `std::uniform_real_distribution<double>`.
    StdFlat,
    /// Standard normal drawn with `std::normal_distribution<double>` (Marsaglia's polar
    /// method on canonical doubles). Deprecated in correctionlib in favour of `Normal`.
    StdNormal,
    /// Standard normal by correctionlib's own polar method on 32-bit draws.
    Normal,
}

/// Draw from `dist` seeded by the hash of `words`.
pub(crate) fn draw(words: &[u64], dist: Distribution) -> f64 {
    let mut bytes = [0u8; 8 * 16];
    let seed = if words.len() <= 16 {
        for (chunk, w) in bytes.chunks_exact_mut(8).zip(words) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        xxhash_rust::xxh64::xxh64(&bytes[..8 * words.len()], 0)
    } else {
        let v: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        xxhash_rust::xxh64::xxh64(&v, 0)
    };
    let mut g = Pcg32::new(seed);
    match dist {
        Distribution::StdFlat => g.canonical(),
        Distribution::StdNormal => loop {
            let x = 2.0 * g.canonical() - 1.0;
            let y = 2.0 * g.canonical() - 1.0;
            let r2 = x * x + y * y;
            if r2 > 1.0 || r2 == 0.0 {
                continue;
            }
            // libstdc++ returns the second of the pair first and keeps the other.
            let mult = (-2.0 * libm::log(r2) / r2).sqrt();
            break y * mult;
        },
        Distribution::Normal => loop {
            let u = f64::from(g.next_u32()) * (2.0f64).powi(-31) - 1.0;
            let v = f64::from(g.next_u32()) * (2.0f64).powi(-31) - 1.0;
            let s = u * u + v * v;
            if s >= 1.0 || s == 0.0 {
                continue;
            }
            break u * (-2.0 * libm::log(s) / s).sqrt();
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Bit-equality with correctionlib is checked by tests/reference.rs (the `prng`
    // correction of casa_synthetic.json); this checks the properties the physics relies on.
    #[test]
    fn draws_are_pure_functions_of_the_inputs() {
        let a = draw(&[1, 2.5f64.to_bits()], Distribution::Normal);
        assert_eq!(
            a.to_bits(),
            draw(&[1, 2.5f64.to_bits()], Distribution::Normal).to_bits()
        );
        assert_ne!(a, draw(&[2, 2.5f64.to_bits()], Distribution::Normal));
        let flat: Vec<f64> = (0..2000)
            .map(|k| draw(&[k], Distribution::StdFlat))
            .collect();
        assert!(flat.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = flat.iter().sum::<f64>() / flat.len() as f64;
        assert!((mean - 0.5).abs() < 0.03, "{mean}");
        let normal: Vec<f64> = (0..2000)
            .map(|k| draw(&[k], Distribution::StdNormal))
            .collect();
        let var = normal.iter().map(|x| x * x).sum::<f64>() / normal.len() as f64;
        assert!((var - 1.0).abs() < 0.1, "{var}");
        let many: Vec<u64> = (0..40).collect();
        assert!(draw(&many, Distribution::StdFlat) < 1.0);
    }
}
