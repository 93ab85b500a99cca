//! A bounds-checked big-endian reader over one buffer. Every length taken from the file is
//! checked against what is left before anything is allocated, so a lying length field gives an
//! error instead of a panic or an unbounded allocation.

use crate::error::Error;

/// ROOT's byte-count flag on the first word of a versioned object.
pub(crate) const BYTE_COUNT_MASK: u32 = 0x4000_0000;
/// Tag that introduces a class name the first time a class is seen in a buffer.
pub(crate) const NEW_CLASS_TAG: u32 = 0xFFFF_FFFF;
/// Bit marking a class reference (as opposed to an object reference).
pub(crate) const CLASS_MASK: u32 = 0x8000_0000;
/// Offset added to buffer positions in reference tags.
pub(crate) const MAP_OFFSET: u32 = 2;

/// Where a buffer came from, for error messages.
#[derive(Debug, Clone)]
pub(crate) struct Origin<'a> {
    pub file: &'a str,
    /// Describes the buffer, e.g. "byte 100" for raw file bytes or "object 'Events' (key at byte
    /// 5000)" for a decompressed object.
    pub what: &'a str,
    /// File offset of the buffer's first byte when the buffer is raw file bytes.
    pub file_offset: Option<u64>,
}

pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Added to positions to form the reference tags ROOT writes (the key length).
    displacement: usize,
    origin: Origin<'a>,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8], origin: Origin<'a>) -> Self {
        Cursor {
            buf,
            pos: 0,
            displacement: 0,
            origin,
        }
    }

    pub fn with_displacement(mut self, displacement: usize) -> Self {
        self.displacement = displacement;
        self
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// The position as ROOT's reference tags count it.
    pub fn ref_pos(&self) -> usize {
        self.pos + self.displacement
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn at_desc(&self, pos: usize) -> String {
        match self.origin.file_offset {
            Some(base) => format!("byte {}", base + pos as u64),
            None => format!("{} + {pos}", self.origin.what),
        }
    }

    pub fn error(&self, what: impl Into<String>) -> Error {
        Error::Malformed {
            file: self.origin.file.to_string(),
            at: self.at_desc(self.pos),
            what: what.into(),
        }
    }

    pub fn seek(&mut self, pos: usize) -> Result<(), Error> {
        if pos > self.buf.len() {
            return Err(self.error(format!(
                "jump to {pos} past the end of a {}-byte buffer",
                self.buf.len()
            )));
        }
        self.pos = pos;
        Ok(())
    }

    pub fn skip(&mut self, n: usize) -> Result<(), Error> {
        self.bytes(n).map(|_| ())
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if n > self.remaining() {
            return Err(self.error(format!(
                "need {n} bytes but only {} remain",
                self.remaining()
            )));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let b = self.bytes(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(b);
        Ok(a)
    }

    pub fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.array::<1>()?[0])
    }
    pub fn i16(&mut self) -> Result<i16, Error> {
        Ok(i16::from_be_bytes(self.array()?))
    }
    pub fn i32(&mut self) -> Result<i32, Error> {
        Ok(i32::from_be_bytes(self.array()?))
    }
    pub fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    pub fn i64(&mut self) -> Result<i64, Error> {
        Ok(i64::from_be_bytes(self.array()?))
    }
    pub fn f64(&mut self) -> Result<f64, Error> {
        Ok(f64::from_be_bytes(self.array()?))
    }

    /// A count read from the file, checked to be non-negative and to fit in what is left when
    /// each element takes `elem_size` bytes.
    pub fn count(&mut self, elem_size: usize, what: &str) -> Result<usize, Error> {
        let n = self.i32()?;
        self.check_count(n as i64, elem_size, what)
    }

    pub fn check_count(&self, n: i64, elem_size: usize, what: &str) -> Result<usize, Error> {
        if n < 0 {
            return Err(self.error(format!("negative {what} ({n})")));
        }
        let n = n as usize;
        if n.saturating_mul(elem_size.max(1)) > self.remaining() {
            return Err(self.error(format!(
                "{what} of {n} does not fit in the {} bytes left",
                self.remaining()
            )));
        }
        Ok(n)
    }

    /// A TString: one length byte, or 255 followed by a 4-byte length.
    pub fn tstring(&mut self) -> Result<String, Error> {
        let short = self.u8()?;
        let n = if short == 255 {
            self.count(1, "string length")?
        } else {
            short as usize
        };
        Ok(String::from_utf8_lossy(self.bytes(n)?).into_owned())
    }

    /// A NUL-terminated string (class names in object tags).
    pub fn cstring(&mut self) -> Result<String, Error> {
        let rest = &self.buf[self.pos..];
        match rest.iter().position(|&b| b == 0) {
            Some(n) => {
                let s = String::from_utf8_lossy(&rest[..n]).into_owned();
                self.pos += n + 1;
                Ok(s)
            }
            None => Err(self.error("unterminated class name")),
        }
    }

    /// Read a version header. Returns the version and, when the object carries a byte count,
    /// the position just past its end.
    pub fn version(&mut self) -> Result<(i16, Option<usize>), Error> {
        let start = self.pos;
        let first = self.u32()?;
        if first & BYTE_COUNT_MASK != 0 {
            let n = (first & !BYTE_COUNT_MASK) as usize;
            // The count covers what follows the count word itself.
            let end = start + 4 + n;
            if end > self.buf.len() {
                return Err(Error::Malformed {
                    file: self.origin.file.to_string(),
                    at: self.at_desc(start),
                    what: format!(
                        "object byte count {n} runs past the end of a {}-byte buffer",
                        self.buf.len()
                    ),
                });
            }
            let v = self.i16()?;
            Ok((v, Some(end)))
        } else {
            self.pos = start;
            Ok((self.i16()?, None))
        }
    }

    /// Skip to the end of an object whose byte count was read by [`Cursor::version`].
    pub fn skip_to(&mut self, end: Option<usize>, class: &str) -> Result<(), Error> {
        match end {
            Some(end) if end >= self.pos => {
                self.pos = end;
                Ok(())
            }
            Some(end) => {
                Err(self.error(format!("{class} read past its byte count (ends at {end})")))
            }
            None => Err(self.error(format!("{class} has no byte count to skip by"))),
        }
    }
}
