//! Any bytes as a compressed basket payload (ROOT's 9-byte block framing over zlib, LZMA,
//! LZ4 with checksum and ZSTD): errors, never panics, and never more output than asked for.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    // The first three bytes choose the expected uncompressed size (up to 16 MiB).
    let objlen = u32::from_le_bytes([data[0], data[1], data[2], 0]) as usize;
    let mut out = vec![0u8; objlen];
    let _ = rootio::decompress(&data[3..], &mut out);
});
