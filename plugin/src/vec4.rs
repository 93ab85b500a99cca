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

    pub fn pt(&self) -> f64 {
        self.px.hypot(self.py)
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
