//! Four-vectors in f64, for candidates given as (pt, eta, phi, mass).
//!
//! All arithmetic is in double precision (coffea does it in float32 when its inputs are
//! float32, which moves a few events across log-bin edges: see docs).

use std::ops::Add;

/// A four-vector in cylindrical coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PtEtaPhiM {
    pub pt: f64,
    pub eta: f64,
    pub phi: f64,
    pub mass: f64,
}

impl PtEtaPhiM {
    pub fn new(pt: f64, eta: f64, phi: f64, mass: f64) -> Self {
        PtEtaPhiM { pt, eta, phi, mass }
    }

    /// px = pt cos φ, py = pt sin φ, pz = pt sinh η, E = sqrt(p² + m²).
    pub fn to_cartesian(self) -> LorentzVector {
        let px = self.pt * self.phi.cos();
        let py = self.pt * self.phi.sin();
        let pz = self.pt * self.eta.sinh();
        let e = (px * px + py * py + pz * pz + self.mass * self.mass).sqrt();
        LorentzVector { px, py, pz, e }
    }
}

/// A four-vector in Cartesian coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LorentzVector {
    pub px: f64,
    pub py: f64,
    pub pz: f64,
    pub e: f64,
}

impl LorentzVector {
    /// Invariant mass; negative m² (from rounding) gives -sqrt(-m²), as ROOT's TLorentzVector.
    pub fn mass(&self) -> f64 {
        let m2 = self.e * self.e - (self.px * self.px + self.py * self.py + self.pz * self.pz);
        if m2 >= 0.0 {
            m2.sqrt()
        } else {
            -(-m2).sqrt()
        }
    }

    /// sqrt(px² + py²), as coffea's vector computes it (not `hypot`, which can differ in
    /// the last bit and then pick another "highest-pT" combination than a reference).
    pub fn pt(&self) -> f64 {
        (self.px * self.px + self.py * self.py).sqrt()
    }
}

/// The sum of four-vectors, added left to right from zero.
///
/// ```
/// use casa_plugin::{LorentzVector, PtEtaPhiM};
/// let j = [PtEtaPhiM::new(40.0, 0.1, 0.2, 5.0), PtEtaPhiM::new(30.0, -0.3, 2.0, 4.0)];
/// let s: LorentzVector = j.iter().map(|p| p.to_cartesian()).sum();
/// assert_eq!(s, j[0].to_cartesian() + j[1].to_cartesian());
/// ```
impl std::iter::Sum for LorentzVector {
    fn sum<I: Iterator<Item = LorentzVector>>(iter: I) -> LorentzVector {
        iter.fold(LorentzVector::default(), |a, b| a + b)
    }
}

impl Add for LorentzVector {
    type Output = LorentzVector;
    fn add(self, o: LorentzVector) -> LorentzVector {
        LorentzVector {
            px: self.px + o.px,
            py: self.py + o.py,
            pz: self.pz + o.pz,
            e: self.e + o.e,
        }
    }
}

/// φ1 − φ2 wrapped into [−π, π).
///
/// ```
/// use casa_plugin::vec4::delta_phi;
/// assert!((delta_phi(3.0, -3.0) - (6.0 - 2.0 * std::f64::consts::PI)).abs() < 1e-12);
/// ```
#[inline]
pub fn delta_phi(phi1: f64, phi2: f64) -> f64 {
    use std::f64::consts::PI;
    (phi1 - phi2 + PI).rem_euclid(2.0 * PI) - PI
}

/// ΔR = sqrt(Δη² + Δφ²), in f64 (coffea computes it in the inputs' float32).
///
/// ```
/// use casa_plugin::vec4::delta_r;
/// assert!((delta_r(0.0, 0.0, 0.3, 0.4) - 0.5).abs() < 1e-12);
/// ```
#[inline]
pub fn delta_r(eta1: f64, phi1: f64, eta2: f64, phi2: f64) -> f64 {
    (eta1 - eta2).hypot(delta_phi(phi1, phi2))
}

impl PtEtaPhiM {
    /// ΔR to another vector.
    ///
    /// ```
    /// use casa_plugin::PtEtaPhiM;
    /// let a = PtEtaPhiM::new(10.0, 0.0, 0.0, 0.0);
    /// assert!((a.delta_r(&PtEtaPhiM::new(5.0, 0.3, 0.4, 0.0)) - 0.5).abs() < 1e-12);
    /// ```
    pub fn delta_r(&self, other: &PtEtaPhiM) -> f64 {
        delta_r(self.eta, self.phi, other.eta, other.phi)
    }
}
