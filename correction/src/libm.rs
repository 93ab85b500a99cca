//! The C library's math functions, called directly.
//!
//! correctionlib evaluates formulas with `std::log`, `std::erf`, `std::acosh`, ... which are
//! the C library's (glibc's) functions. Rust's standard library computes some of them itself
//! (`asinh`, `acosh`, `atanh` are written in Rust; `erf` is not stable), and those can differ
//! from glibc in the last bit. Even `sqrt` goes through the C library: for a negative
//! argument the C++ code calls it (for errno) and glibc returns a positive NaN, where the
//! `sqrtsd` instruction Rust uses gives a negative one. Calling the same C functions keeps formulas bit-equal to the
//! reference on the machine that runs both.
#![allow(unsafe_code)] // plain calls into the C math library: pure functions of their arguments

mod sys {
    extern "C" {
        pub fn sqrt(x: f64) -> f64;
        pub fn exp(x: f64) -> f64;
        pub fn log(x: f64) -> f64;
        pub fn log10(x: f64) -> f64;
        pub fn erf(x: f64) -> f64;
        pub fn cos(x: f64) -> f64;
        pub fn sin(x: f64) -> f64;
        pub fn tan(x: f64) -> f64;
        pub fn acos(x: f64) -> f64;
        pub fn asin(x: f64) -> f64;
        pub fn atan(x: f64) -> f64;
        pub fn cosh(x: f64) -> f64;
        pub fn sinh(x: f64) -> f64;
        pub fn tanh(x: f64) -> f64;
        pub fn acosh(x: f64) -> f64;
        pub fn asinh(x: f64) -> f64;
        pub fn atanh(x: f64) -> f64;
        pub fn atan2(y: f64, x: f64) -> f64;
        pub fn pow(x: f64, y: f64) -> f64;
    }
}

macro_rules! unary {
    ($($name:ident)*) => {$(
        #[inline]
        pub(crate) fn $name(x: f64) -> f64 {
            // SAFETY: a C math function taking and returning a double; no pointers, and errno
            // (which it may set) is never read.
            unsafe { sys::$name(x) }
        }
    )*};
}

unary!(sqrt exp log log10 erf cos sin tan acos asin atan cosh sinh tanh acosh asinh atanh);

#[inline]
pub(crate) fn atan2(y: f64, x: f64) -> f64 {
    // SAFETY: as above.
    unsafe { sys::atan2(y, x) }
}

#[inline]
pub(crate) fn pow(x: f64, y: f64) -> f64 {
    // SAFETY: as above.
    unsafe { sys::pow(x, y) }
}
