//! One error type for everything the reader can reject. Every variant names the file, and where
//! it makes sense the object, branch and byte offset, so a user can report a bad file precisely.

use std::io;

/// Errors raised while reading a ROOT file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The byte source failed (missing file, permission, network).
    #[error("{file}: cannot read {len} bytes at byte {offset}: {source}")]
    Io {
        file: String,
        offset: u64,
        len: usize,
        #[source]
        source: io::Error,
    },
    /// The file could not be opened at all.
    #[error("{file}: cannot open: {source}")]
    Open {
        file: String,
        #[source]
        source: io::Error,
    },
    /// The first bytes are not `root`.
    #[error("{file}: not a ROOT file (starts with {magic:?}, expected \"root\")")]
    NotRoot { file: String, magic: String },
    /// A structure is inconsistent: a length that lies, an offset out of the file, a bad tag.
    #[error("{file}: malformed data at {at}: {what}")]
    Malformed {
        file: String,
        at: String,
        what: String,
    },
    /// A compressed block could not be decoded.
    #[error("{file}: cannot decompress {at}: {what}")]
    Decompress {
        file: String,
        at: String,
        what: String,
    },
    /// The requested object (tree, directory) is not in the file.
    #[error("{file}: no object named '{name}'{hint}")]
    NotFound {
        file: String,
        name: String,
        hint: String,
    },
    /// The object exists but is not what was asked for.
    #[error("{file}: '{name}' is a {class}, not a {expected}")]
    WrongClass {
        file: String,
        name: String,
        class: String,
        expected: &'static str,
    },
    /// The tree has no branch of that name.
    #[error("{file}: tree '{tree}' has no branch '{branch}'")]
    NoBranch {
        file: String,
        tree: String,
        branch: String,
    },
    /// A bare branch name shared by several branches (under different parents): the caller
    /// must say which by its full path.
    #[error("{file}: tree '{tree}': branch name '{branch}' is ambiguous; use one of the full paths {}", candidates.join(", "))]
    AmbiguousBranch {
        file: String,
        tree: String,
        branch: String,
        candidates: Vec<String>,
    },
    /// The branch exists but its type cannot be read as a numeric column.
    #[error("{file}: tree '{tree}' branch '{branch}': unsupported type {ty}")]
    Unsupported {
        file: String,
        tree: String,
        branch: String,
        ty: String,
    },
    /// A class version this reader does not know how to decode.
    #[error("{file}: {class} version {version} at {at} is not supported ({hint})")]
    Version {
        file: String,
        class: &'static str,
        version: i16,
        at: String,
        hint: String,
    },
    /// The entry range does not fit the tree.
    #[error("{file}: tree '{tree}': entry range {start}:{stop} is outside 0:{entries}")]
    Range {
        file: String,
        tree: String,
        start: u64,
        stop: u64,
        entries: u64,
    },
    /// A stored checksum does not match the bytes (an RNTuple anchor, envelope or page).
    #[error("{file}: {what}: checksum mismatch (stored {stored:#018x}, computed {computed:#018x}): the file is corrupt")]
    Checksum {
        file: String,
        what: String,
        stored: u64,
        computed: u64,
    },
    /// Basket contents disagree with the branch metadata.
    #[error("{file}: tree '{tree}' branch '{branch}' basket {basket} at byte {offset}: {what}")]
    Basket {
        file: String,
        tree: String,
        branch: String,
        basket: usize,
        offset: u64,
        what: String,
    },
}

impl Error {
    /// True when the failure comes from the byte source (worth retrying elsewhere), false when
    /// the bytes themselves are bad or the request is wrong (permanent).
    pub fn is_io(&self) -> bool {
        matches!(self, Error::Io { .. } | Error::Open { .. })
    }
}

/// Result alias for the reader.
pub type Result<T, E = Error> = std::result::Result<T, E>;
