//! A file held in memory.

use std::io;

use super::ByteSource;

/// A file held in memory: for tests, fuzzing and files already fetched whole.
pub struct MemSource {
    name: String,
    data: Vec<u8>,
}

impl MemSource {
    pub fn new(name: impl Into<String>, data: Vec<u8>) -> Self {
        MemSource {
            name: name.into(),
            data,
        }
    }
}

impl ByteSource for MemSource {
    fn name(&self) -> &str {
        &self.name
    }
    fn size(&self) -> u64 {
        self.data.len() as u64
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        match start
            .checked_add(buf.len())
            .and_then(|end| self.data.get(start..end))
        {
            Some(src) => {
                buf.copy_from_slice(src);
                Ok(())
            }
            None => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "read past the end of the file",
            )),
        }
    }
}
