//! The byte envelope partials and checkpoints share: 8-byte magic, version (major, minor),
//! header length (u32), payload length (u64), the JSON header, the zstd payload, and an xxh64
//! of everything before it. Each format keeps its own magic, version and error messages.

/// Bytes before the header: magic, version, header length, payload length.
pub(crate) const FIXED: usize = 24;

/// Wrap a JSON header and a compressed payload.
pub(crate) fn seal(magic: &[u8; 8], version: (u16, u16), header: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(FIXED + header.len() + payload.len() + 8);
    out.extend_from_slice(magic);
    out.extend_from_slice(&version.0.to_le_bytes());
    out.extend_from_slice(&version.1.to_le_bytes());
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(header);
    out.extend_from_slice(payload);
    let sum = xxhash_rust::xxh64::xxh64(&out, 0);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// Why bytes are not a sound envelope of the expected kind.
pub(crate) enum Flaw {
    /// Too short for the magic, or another magic.
    NotOurs,
    /// The magic is there but not the rest of the fixed header.
    Short,
    /// A major version this casa does not read, or a newer minor one.
    Version {
        major: u16,
        minor: u16,
    },
    /// The lengths in the fixed header do not add up to the bytes (`want` None: overflow).
    Length {
        header: u64,
        payload: u64,
        want: Option<u64>,
    },
    Checksum {
        stored: u64,
        computed: u64,
    },
}

/// Check an envelope and return its JSON header and compressed payload.
pub(crate) fn open<'a>(
    bytes: &'a [u8],
    magic: &[u8; 8],
    version: (u16, u16),
) -> Result<(&'a [u8], &'a [u8]), Flaw> {
    if bytes.len() < 8 || &bytes[..8] != magic {
        return Err(Flaw::NotOurs);
    }
    if bytes.len() < FIXED + 8 {
        return Err(Flaw::Short);
    }
    let major = u16::from_le_bytes([bytes[8], bytes[9]]);
    let minor = u16::from_le_bytes([bytes[10], bytes[11]]);
    if major != version.0 || minor > version.1 {
        return Err(Flaw::Version { major, minor });
    }
    let h = u32::from_le_bytes(bytes[12..16].try_into().expect("4 bytes")) as u64;
    let p = u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes"));
    let want = (FIXED as u64)
        .checked_add(h)
        .and_then(|x| x.checked_add(p))
        .and_then(|x| x.checked_add(8));
    if want != Some(bytes.len() as u64) {
        return Err(Flaw::Length {
            header: h,
            payload: p,
            want,
        });
    }
    let body = bytes.len() - 8;
    let stored = u64::from_le_bytes(bytes[body..].try_into().expect("8 bytes"));
    let computed = xxhash_rust::xxh64::xxh64(&bytes[..body], 0);
    if stored != computed {
        return Err(Flaw::Checksum { stored, computed });
    }
    let h = FIXED + h as usize;
    Ok((&bytes[FIXED..h], &bytes[h..body]))
}
