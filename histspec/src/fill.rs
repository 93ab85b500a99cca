//! The values a plugin fills a histogram with, one argument per axis (the C ABI's
//! `casa_fill_arg`, as the host hands it to casa-hist and as the Rust SDK takes it).

/// One fill argument per axis: an array of values, or one value for every entry.
#[derive(Clone, Copy, Debug)]
pub enum FillArg<'a> {
    F64(&'a [f64]),
    F32(&'a [f32]),
    I64(&'a [i64]),
    Bool(&'a [bool]),
    Str(&'a [&'a str]),
    OneF64(f64),
    OneI64(i64),
    OneBool(bool),
    OneStr(&'a str),
}

impl FillArg<'_> {
    /// The number of values of an array argument, `None` for a broadcast value.
    pub fn array_len(&self) -> Option<usize> {
        match self {
            FillArg::F64(x) => Some(x.len()),
            FillArg::F32(x) => Some(x.len()),
            FillArg::I64(x) => Some(x.len()),
            FillArg::Bool(x) => Some(x.len()),
            FillArg::Str(x) => Some(x.len()),
            _ => None,
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            FillArg::F64(_) | FillArg::OneF64(_) => "f64",
            FillArg::F32(_) => "f32",
            FillArg::I64(_) | FillArg::OneI64(_) => "i64",
            FillArg::Bool(_) | FillArg::OneBool(_) => "bool",
            FillArg::Str(_) | FillArg::OneStr(_) => "string",
        }
    }
}
