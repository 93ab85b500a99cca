//! A basket as stored on disk: its TKey (which names the branch, the tree and its own
//! position), the TBasket header after it, and the entry-offset table at the end of its
//! object. ROOT writes ZSTD frames without a checksum and stores incompressible baskets raw,
//! so these records are the only cross-checks there are: every one is checked against what
//! the TTree says of the basket before its data is used.

/// The environment variable that makes the reader decode and check the entry-offset table of
/// ZSTD baskets too (`CASA_FULL_BASKET_CHECKS=1`): it costs ~30% of a ZSTD job's time.
pub const FULL_CHECKS_ENV: &str = "CASA_FULL_BASKET_CHECKS";

/// Whether `CASA_FULL_BASKET_CHECKS` asks for full checks (read once per process).
pub(crate) fn full_checks() -> bool {
    static FULL: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FULL.get_or_init(|| {
        std::env::var(FULL_CHECKS_ENV)
            .is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false" | "no"))
    })
}

/// What the TTree record says about one basket.
pub(crate) struct Expected<'a> {
    /// The branch's fName, which ROOT writes as the basket key's name.
    pub branch: &'a str,
    /// fBasketSeek: the key records its own position.
    pub seek: u64,
    /// Entries, from fBasketEntry.
    pub entries: u64,
}

/// The fields of a basket's key and TBasket header that the reader uses.
#[derive(Debug)]
pub(crate) struct Header {
    pub objlen: usize,
    pub keylen: usize,
    pub nev_buf: usize,
    /// fLast − fKeylen: where the data ends and the entry-offset table starts in the object.
    pub border: usize,
    /// fNevBufSize < 0: the basket was written with I/O bits (kGenerateOffsetMap), and its
    /// table, if any, does not hold offsets.
    pub io_bits: bool,
}

fn be_i32(b: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Parse a basket's key and header from its on-disk bytes and check them against the TTree.
pub(crate) fn header(bytes: &[u8], want: &Expected<'_>) -> Result<Header, String> {
    let short = || format!("only {} bytes, too short for a basket key", bytes.len());
    if bytes.len() < 18 {
        return Err(short());
    }
    let nbytes = be_i32(bytes, 0).ok_or_else(short)?;
    let version = i16::from_be_bytes([bytes[4], bytes[5]]);
    let objlen = be_i32(bytes, 6).ok_or_else(short)?;
    let keylen = i16::from_be_bytes(bytes.get(14..16).ok_or_else(short)?.try_into().expect("2"));
    if nbytes as i64 != bytes.len() as i64
        || keylen < 37
        || keylen as i64 > nbytes as i64
        || objlen < 0
    {
        return Err(format!(
            "key header disagrees with the branch (Nbytes {nbytes}, KeyLen {keylen}, ObjLen {objlen}; branch says {} bytes)",
            bytes.len()
        ));
    }
    let keylen = keylen as usize;
    let key = &bytes[..keylen];
    // SeekKey, then SeekPdir, then three strings: class, name, title.
    let (seek, mut p) = if version > 1000 {
        let s = key.get(18..26).ok_or_else(short)?;
        (i64::from_be_bytes(s.try_into().expect("8")), 34)
    } else {
        (be_i32(key, 18).ok_or_else(short)? as i64, 26)
    };
    let mut strings = [&[][..]; 3];
    for s in &mut strings {
        let run_past = || "key strings run past the key length".to_string();
        let n = *key.get(p).ok_or_else(run_past)?;
        // 255 announces a 4-byte length (names longer than 254 bytes).
        let (n, skip) = match n {
            255 => (be_i32(key, p + 1).ok_or_else(run_past)?.max(0) as usize, 5),
            n => (n as usize, 1),
        };
        *s = key.get(p + skip..p + skip + n).ok_or_else(run_past)?;
        p += skip + n;
    }
    // The title is the tree's name when the basket was written, not checked: files exist
    // whose baskets carry an empty title or the name the tree had before it was renamed.
    let [class, name, _title] = strings;
    if class != b"TBasket" || name != want.branch.as_bytes() {
        return Err(format!(
            "the key at this position is a {} of branch '{}', not a basket of '{}'",
            String::from_utf8_lossy(class),
            String::from_utf8_lossy(name),
            want.branch,
        ));
    }
    if seek < 0 || seek as u64 != want.seek {
        return Err(format!(
            "the key says it was written at byte {seek}, not where the branch points"
        ));
    }
    // TBasket: version, fBufferSize, fNevBufSize, [fIOBits when fNevBufSize < 0], fNevBuf,
    // fLast, flag; it ends the key.
    let h = keylen - 19;
    if p != h && p != h - 1 {
        return Err(format!(
            "the key's strings end at +{p}, but its TBasket header must start at +{h}"
        ));
    }
    let nev_buf_size = be_i32(key, p + 6).expect("inside the key");
    let nev_buf = be_i32(key, h + 10).expect("inside the key");
    let last = be_i32(key, h + 14).expect("inside the key");
    if nev_buf < 0 || nev_buf as u64 != want.entries {
        return Err(format!(
            "basket holds {nev_buf} entries, the branch says {}",
            want.entries
        ));
    }
    let border = last as i64 - keylen as i64;
    if border < 0 || border > objlen as i64 {
        return Err(format!("fLast {last} outside the {objlen}-byte object"));
    }
    Ok(Header {
        objlen: objlen as usize,
        keylen,
        nev_buf: nev_buf as usize,
        border: border as usize,
        io_bits: nev_buf_size < 0,
    })
}

/// A basket's entry-offset table: where each entry starts, counted from the key's start.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EntryOffsets<'a> {
    /// fNevBuf big-endian Int_t, the start of each entry (the table's last slot, which ROOT
    /// leaves 0 and uproot fills with fLast, is dropped).
    starts: &'a [u8],
    keylen: usize,
    border: usize,
}

impl<'a> EntryOffsets<'a> {
    /// Decode the table that follows the data (`tail` is the object after fLast) and check it
    /// against itself: one slot per entry plus one, starting at the key length, never
    /// decreasing, inside the data. `None` when the basket has no table.
    pub fn parse(tail: &'a [u8], h: &Header) -> Result<Option<EntryOffsets<'a>>, String> {
        if tail.is_empty() || h.io_bits {
            return Ok(None);
        }
        let bad = |what: String| Err(format!("entry-offset table: {what}"));
        let Some(n) = be_i32(tail, 0) else {
            return bad(format!("{} bytes, too short for its length", tail.len()));
        };
        if n as i64 != h.nev_buf as i64 + 1 {
            return bad(format!(
                "{n} slots for {} entries (ROOT writes one more than the entries)",
                h.nev_buf
            ));
        }
        let table = 4 + 4 * n as usize;
        // Objects written with fDisplacement carry a second array of the same shape after it.
        let rest = tail.len().checked_sub(table);
        let ok_rest = match rest {
            Some(0) => true,
            Some(r) => be_i32(tail, table).is_some_and(|m| m >= 0 && r == 4 + 4 * m as usize),
            None => false,
        };
        if !ok_rest {
            return bad(format!(
                "{n} slots do not fit the {} bytes after the data",
                tail.len()
            ));
        }
        let t = EntryOffsets {
            starts: &tail[4..4 + 4 * h.nev_buf],
            keylen: h.keylen,
            border: h.border,
        };
        let last_slot = be_i32(tail, 4 + 4 * h.nev_buf).expect("inside the table");
        if last_slot != 0 && last_slot as i64 != (h.keylen + h.border) as i64 {
            return bad(format!("final slot {last_slot} is neither 0 nor fLast"));
        }
        // The first slot is the key length; each entry's start is checked by `check_sizes`
        // or `check_start`, in the pass that compares it with the counter.
        if h.nev_buf > 0 && t.slot(0) != h.keylen as i64 {
            return bad(format!(
                "the first entry starts at {}, not at the key length {}",
                t.slot(0),
                h.keylen
            ));
        }
        Ok(Some(t))
    }

    fn slot(&self, i: usize) -> i64 {
        i32::from_be_bytes(self.starts[4 * i..4 * i + 4].try_into().expect("4")) as i64
    }

    /// Check every entry's start against the counter: `cum` holds, for each entry of the
    /// basket and one past its end, the items before it (from any origin), `width` the bytes
    /// per item. One pass, no branch per entry, so it costs little beside the decoding.
    pub fn check_counts(&self, cum: &[u64], width: usize) -> Result<(), String> {
        let n = self.starts.len() / 4;
        if cum.len() != n + 1 {
            return Err(format!(
                "the counter covers {} of the basket's {n} entries",
                cum.len().saturating_sub(1)
            ));
        }
        let (c0, w, base) = (cum[0], width as u64, self.keylen as i64);
        let expected = |c: u64| base.saturating_add((c - c0).saturating_mul(w) as i64);
        let agree = self
            .starts
            .chunks_exact(4)
            .zip(cum)
            .fold(true, |ok, (s, &c)| {
                ok & (i32::from_be_bytes(s.try_into().expect("4")) as i64 == expected(c))
            });
        if agree && self.border as u64 == (cum[n] - c0).saturating_mul(w) {
            return Ok(());
        }
        // Find the first disagreement for the message.
        let i = (0..n)
            .find(|&i| self.slot(i) != expected(cum[i]))
            .unwrap_or(n);
        let end = |i: usize| match i + 1 < n {
            true => self.slot(i + 1),
            false => (self.keylen + self.border) as i64,
        };
        Err(format!(
            "entry {i} of the basket: the entry-offset table puts it at bytes {}..{}, the counter at {}..{}",
            self.slot(i.min(n.saturating_sub(1))) - base,
            end(i.min(n.saturating_sub(1))) - base,
            expected(cum[i]) - base,
            expected(cum[(i + 1).min(n)]) - base
        ))
    }

    /// Check that entry `i` starts at byte `at` of the data.
    pub fn check_start(&self, i: usize, at: usize) -> Result<(), String> {
        match self.starts.len() / 4 > i && self.slot(i) == (self.keylen + at) as i64 {
            true => Ok(()),
            false => Err(format!(
                "entry {i} of the basket starts at byte {at} of the data, not where the entry-offset table says"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(nev_buf: usize, keylen: usize, border: usize) -> Header {
        Header {
            objlen: 0,
            keylen,
            nev_buf,
            border,
            io_bits: false,
        }
    }

    fn table(slots: &[i32]) -> Vec<u8> {
        let mut v = (slots.len() as i32).to_be_bytes().to_vec();
        for s in slots {
            v.extend_from_slice(&s.to_be_bytes());
        }
        v
    }

    #[test]
    fn tables_as_root_and_uproot_write_them() {
        let h = header(3, 70, 12);
        for last in [0, 82] {
            let t = table(&[70, 74, 74, last]);
            let e = EntryOffsets::parse(&t, &h).unwrap().unwrap();
            // Counts 1, 0, 2 of 4-byte items, from any origin.
            e.check_counts(&[5, 6, 6, 8], 4).unwrap();
            assert!(e.check_counts(&[5, 6, 7, 8], 4).is_err());
            assert!(e.check_counts(&[5, 6, 6, 9], 4).is_err());
            assert!(e.check_counts(&[5, 6, 6], 4).is_err());
            e.check_start(1, 4).unwrap();
            assert!(e.check_start(2, 5).is_err());
        }
        assert!(EntryOffsets::parse(&[], &h).unwrap().is_none());
    }

    #[test]
    fn inconsistent_tables_are_refused() {
        let h = header(3, 70, 12);
        for t in [
            table(&[70, 74, 74]),    // one slot short
            table(&[71, 74, 74, 0]), // does not start at the key length
            table(&[70, 74, 74, 5]), // final slot
            table(&[70, 74, 74, 0])[..12].to_vec(),
        ] {
            assert!(EntryOffsets::parse(&t, &h).is_err(), "{t:?}");
        }
        // Entries out of order or past the data disagree with any counter.
        for t in [table(&[70, 76, 74, 0]), table(&[70, 74, 90, 0])] {
            let e = EntryOffsets::parse(&t, &h).unwrap().unwrap();
            for cum in [[0, 1, 1, 3], [0, 1, 2, 3], [0, 0, 0, 3]] {
                assert!(e.check_counts(&cum, 4).is_err(), "{t:?} {cum:?}");
            }
        }
    }
}
