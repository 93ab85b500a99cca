//! ROOT's compression framing. A compressed payload is a sequence of blocks, each with a 9-byte
//! header: a 2-byte algorithm tag, one method byte, then the compressed and uncompressed sizes
//! as 3-byte little-endian integers. We dispatch on the tag of every block, never on the
//! branch's fCompress setting: files exist whose baskets disagree with it.

use std::cell::RefCell;

/// The algorithm of one block, from its tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Codec {
    Zlib,
    Lzma,
    Lz4,
    Zstd,
    /// ROOT's own pre-2012 algorithm ("CS"); not supported.
    OldRoot,
    None,
}

impl Codec {
    pub fn name(self) -> &'static str {
        match self {
            Codec::Zlib => "zlib",
            Codec::Lzma => "lzma",
            Codec::Lz4 => "lz4",
            Codec::Zstd => "zstd",
            Codec::OldRoot => "root-legacy",
            Codec::None => "none",
        }
    }

    /// The codec of a payload, from its first block header (or `None` when stored raw).
    pub fn sniff(payload: &[u8], uncompressed_len: usize) -> Option<Codec> {
        if payload.len() == uncompressed_len {
            return Some(Codec::None);
        }
        match payload.get(..2)? {
            b"ZL" => Some(Codec::Zlib),
            b"XZ" => Some(Codec::Lzma),
            b"L4" => Some(Codec::Lz4),
            b"ZS" => Some(Codec::Zstd),
            b"CS" => Some(Codec::OldRoot),
            _ => None,
        }
    }
}

/// Why a payload could not be decoded; `offset` is the position of the failing block header
/// inside the payload.
#[derive(Debug)]
pub struct DecodeError {
    pub offset: usize,
    pub what: String,
}

const HEADER: usize = 9;

thread_local! {
    static DEFLATE: RefCell<libdeflater::Decompressor> = RefCell::new(libdeflater::Decompressor::new());
    static ZSTD_STREAM: RefCell<zstd::zstd_safe::DCtx<'static>> = RefCell::new(zstd::zstd_safe::DCtx::create());
}

/// One block of a compressed payload: where its header is, its compressed length, where its
/// output starts in the object and its uncompressed length.
#[derive(Debug, Clone, Copy)]
pub struct Block {
    pub src: usize,
    pub clen: usize,
    pub at: usize,
    pub ulen: usize,
}

/// The most one compressed byte of each codec can expand to (a little above what each
/// format allows: deflate 1032:1, LZ4 255:1, xz about 6,500:1 on 16 MiB of zeros, a ZSTD RLE
/// block 128 KiB from 4 bytes), so a block header cannot claim more output than its bytes
/// could produce.
fn max_ratio(tag: &[u8]) -> usize {
    match tag {
        b"ZL" => 1040,
        b"L4" => 256,
        b"XZ" => 8192,
        _ => 1 << 15,
    }
}

/// Walk the block headers of a payload that decompresses to `objlen` bytes, before anything
/// is allocated for it: the uncompressed sizes must add up to `objlen`, each block must fit
/// the payload, and no block may claim more output than its compressed bytes can produce (a
/// ZSTD frame must declare exactly its block's size, as ROOT writes them). A payload whose
/// length is `objlen` is stored raw and has no blocks.
pub fn blocks(payload: &[u8], objlen: usize) -> Result<Vec<Block>, DecodeError> {
    let mut blocks = Vec::new();
    if payload.len() == objlen {
        return Ok(blocks);
    }
    let (mut src, mut total) = (0usize, 0usize);
    while total < objlen {
        let Some(h) = payload.get(src..src + HEADER) else {
            return Err(DecodeError {
                offset: src,
                what: format!(
                    "payload ends after block headers for {total} of the {objlen} bytes the object claims"
                ),
            });
        };
        let clen = u32::from_le_bytes([h[3], h[4], h[5], 0]) as usize;
        let ulen = u32::from_le_bytes([h[6], h[7], h[8], 0]) as usize;
        let err = |what: String| DecodeError { offset: src, what };
        if src + HEADER + clen > payload.len() || ulen == 0 || total + ulen > objlen {
            return Err(err(format!(
                "block header (compressed {clen}, uncompressed {ulen}) does not fit the payload of {} bytes for a {objlen}-byte object",
                payload.len()
            )));
        }
        if ulen > clen.saturating_mul(max_ratio(&h[..2])) {
            return Err(err(format!(
                "block header claims {ulen} bytes from {clen} compressed bytes, more than {} can produce",
                String::from_utf8_lossy(&h[..2])
            )));
        }
        if &h[..2] == b"ZS" {
            let frame = &payload[src + HEADER..src + HEADER + clen];
            if let Ok(Some(n)) = zstd::zstd_safe::get_frame_content_size(frame) {
                if n != ulen as u64 {
                    return Err(err(format!(
                        "ZSTD frame holds {n} bytes, its block header says {ulen}"
                    )));
                }
            }
        }
        blocks.push(Block {
            src,
            clen,
            at: total,
            ulen,
        });
        src += HEADER + clen;
        total += ulen;
    }
    Ok(blocks)
}

/// Decode only the first `out.len()` bytes of a payload that decompresses to `objlen` bytes,
/// given its `blocks` (from [`blocks`]).
///
/// Blocks wholly past the prefix are not decoded; a ZSTD block that straddles the end is
/// decoded with the streaming API, which stops when the output is full (ROOT writes ZSTD
/// frames without a content checksum, so nothing is skipped that would have been checked).
/// Other codecs decode their straddling block whole (zlib, LZMA and LZ4 verify checksums at
/// the end), then copy the prefix.
pub fn decompress_blocks(
    payload: &[u8],
    objlen: usize,
    blocks: &[Block],
    out: &mut [u8],
) -> Result<(), DecodeError> {
    if out.len() > objlen {
        return Err(DecodeError {
            offset: 0,
            what: format!(
                "prefix of {} bytes asked from a {objlen}-byte object",
                out.len()
            ),
        });
    }
    if payload.len() == objlen {
        out.copy_from_slice(&payload[..out.len()]);
        return Ok(());
    }
    for &Block {
        src,
        clen,
        at,
        ulen,
    } in blocks
    {
        if at >= out.len() {
            break;
        }
        let want = out.len() - at;
        if ulen <= want {
            decompress(&payload[src..src + HEADER + clen], &mut out[at..at + ulen]).map_err(
                |e| DecodeError {
                    offset: src + e.offset,
                    what: e.what,
                },
            )?;
        } else if &payload[src..src + 2] == b"ZS" {
            let block = &payload[src + HEADER..src + HEADER + clen];
            zstd_prefix(block, &mut out[at..]).map_err(|what| DecodeError { offset: src, what })?;
        } else {
            let mut tmp = vec![0u8; ulen];
            decompress(&payload[src..src + HEADER + clen], &mut tmp).map_err(|e| DecodeError {
                offset: src + e.offset,
                what: e.what,
            })?;
            out[at..].copy_from_slice(&tmp[..want]);
        }
    }
    Ok(())
}

/// Decode a whole payload that decompresses to `objlen` bytes: the block headers are walked
/// and checked ([`blocks`]) before the output is allocated, so a lying length allocates nothing.
pub fn decompress_to_vec(payload: &[u8], objlen: usize) -> Result<Vec<u8>, DecodeError> {
    let blocks = blocks(payload, objlen)?;
    let mut out = vec![0; objlen];
    decompress_blocks(payload, objlen, &blocks, &mut out)?;
    Ok(out)
}

/// Decode only the first `out.len()` bytes of a payload that decompresses to `objlen` bytes
/// (see [`decompress_blocks`]); all block headers are checked first.
pub fn decompress_prefix(payload: &[u8], objlen: usize, out: &mut [u8]) -> Result<(), DecodeError> {
    let blocks = blocks(payload, objlen)?;
    decompress_blocks(payload, objlen, &blocks, out)
}

fn zstd_prefix(block: &[u8], out: &mut [u8]) -> Result<(), String> {
    use zstd::zstd_safe::{InBuffer, OutBuffer, ResetDirective};
    ZSTD_STREAM.with(|d| {
        let mut d = d.borrow_mut();
        d.reset(ResetDirective::SessionOnly)
            .map_err(|c| zstd::zstd_safe::get_error_name(c).to_string())?;
        let mut input = InBuffer::around(block);
        let mut output = OutBuffer::around(out);
        loop {
            let r = d
                .decompress_stream(&mut output, &mut input)
                .map_err(|c| format!("zstd: {}", zstd::zstd_safe::get_error_name(c)))?;
            if output.pos() == output.capacity() {
                return Ok(());
            }
            if r == 0 || input.pos() == block.len() {
                return Err(format!("zstd frame ended after {} bytes", output.pos()));
            }
        }
    })
}

/// Decode `payload` into `out`, whose length is the expected uncompressed size (fObjlen).
/// A payload whose length already equals `out.len()` is stored uncompressed.
pub fn decompress(payload: &[u8], out: &mut [u8]) -> Result<(), DecodeError> {
    if payload.len() == out.len() {
        out.copy_from_slice(payload);
        return Ok(());
    }
    let mut src = 0usize;
    let mut dst = 0usize;
    while dst < out.len() {
        let err = |what: String| DecodeError { offset: src, what };
        let Some(h) = payload.get(src..src + HEADER) else {
            return Err(err(format!(
                "payload ends after {} of {} uncompressed bytes",
                dst,
                out.len()
            )));
        };
        let clen = u32::from_le_bytes([h[3], h[4], h[5], 0]) as usize;
        let ulen = u32::from_le_bytes([h[6], h[7], h[8], 0]) as usize;
        let Some(block) = payload.get(src + HEADER..src + HEADER + clen) else {
            return Err(err(format!(
                "block says {clen} compressed bytes but only {} remain",
                payload.len().saturating_sub(src + HEADER)
            )));
        };
        let Some(target) = out.get_mut(dst..dst + ulen) else {
            return Err(err(format!(
                "block says {ulen} uncompressed bytes, more than the {} still expected",
                out.len() - dst
            )));
        };
        let got = match &h[..2] {
            b"ZL" => DEFLATE
                .with(|d| d.borrow_mut().zlib_decompress(block, target))
                .map_err(|e| err(format!("zlib: {e:?}")))?,
            b"XZ" => lzma(block, target).map_err(|e| err(format!("lzma: {e}")))?,
            b"L4" => lz4(block, target).map_err(err)?,
            b"ZS" => zstd::zstd_safe::decompress(target, block)
                .map_err(|code| err(format!("zstd: {}", zstd::zstd_safe::get_error_name(code))))?,
            b"CS" => {
                return Err(err(
                    "ROOT's legacy (pre-2012) compression algorithm is not supported".into(),
                ))
            }
            tag => {
                return Err(err(format!(
                    "unknown compression tag {:?}",
                    String::from_utf8_lossy(tag)
                )))
            }
        };
        if got != ulen {
            return Err(err(format!(
                "block decoded to {got} bytes, header says {ulen}"
            )));
        }
        src += HEADER + clen;
        dst += ulen;
    }
    Ok(())
}

fn lzma(block: &[u8], target: &mut [u8]) -> Result<usize, String> {
    use liblzma::stream::{Action, Status, Stream};
    let mut s = Stream::new_stream_decoder(u64::MAX, 0).map_err(|e| e.to_string())?;
    let status = s
        .process(block, target, Action::Finish)
        .map_err(|e| e.to_string())?;
    if status != Status::StreamEnd {
        return Err(format!(
            "stream did not end after {} input bytes",
            s.total_in()
        ));
    }
    Ok(s.total_out() as usize)
}

fn lz4(block: &[u8], target: &mut [u8]) -> Result<usize, String> {
    // 8-byte big-endian xxhash64 of the compressed bytes, then a raw LZ4 block.
    if block.len() < 8 {
        return Err("lz4 block shorter than its checksum".into());
    }
    let (sum, data) = block.split_at(8);
    let want = u64::from_be_bytes(sum.try_into().expect("8 bytes"));
    let have = xxhash_rust::xxh64::xxh64(data, 0);
    if want != have {
        return Err(format!(
            "lz4 checksum mismatch (stored {want:#018x}, computed {have:#018x})"
        ));
    }
    lz4_flex::block::decompress_into(data, target).map_err(|e| format!("lz4: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(tag: &[u8; 2], data: &[u8], ulen: usize) -> Vec<u8> {
        let c = data.len() as u32;
        let u = ulen as u32;
        let mut v = tag.to_vec();
        v.push(0);
        v.extend_from_slice(&c.to_le_bytes()[..3]);
        v.extend_from_slice(&u.to_le_bytes()[..3]);
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn zstd_multi_block_roundtrip() {
        let a: Vec<u8> = (0..5000u32).flat_map(|i| i.to_be_bytes()).collect();
        let b: Vec<u8> = (0..3000u32).map(|i| (i % 7) as u8).collect();
        let mut payload = frame(b"ZS", &zstd::bulk::compress(&a, 3).unwrap(), a.len());
        payload.extend(frame(b"ZS", &zstd::bulk::compress(&b, 3).unwrap(), b.len()));
        let mut out = vec![0; a.len() + b.len()];
        decompress(&payload, &mut out).unwrap();
        assert_eq!(&out[..a.len()], &a[..]);
        assert_eq!(&out[a.len()..], &b[..]);
    }

    #[test]
    fn lying_sizes_are_errors_not_panics() {
        let a = vec![7u8; 1000];
        let good = frame(b"ZS", &zstd::bulk::compress(&a, 1).unwrap(), a.len());
        // Claimed uncompressed size larger than the output.
        let mut out = vec![0; 999];
        assert!(decompress(&good, &mut out).is_err());
        // Truncated payload.
        let mut out = vec![0; 1000];
        assert!(decompress(&good[..good.len() - 3], &mut out).is_err());
        // Unknown tag.
        let mut bad = good.clone();
        bad[0] = b'Q';
        assert!(decompress(&bad, &mut out).is_err());
    }
}
