//! Exactly once: every chunk (dataset, file, UUID, tree, [start, stop)) counted once.
//!
//! All chunk identities of all headers are sorted once by (dataset, file, tree, start, stop),
//! then each file's ranges are walked in order against the last distinct range seen:
//!
//! - a range starting at or after the last one's end is new;
//! - the same range again (another partial) is a duplicate: the two partials must be copies
//!   of each other (a retried node whose first attempt also wrote), else it is a conflict;
//! - any other intersection is an overlap, an error naming both files and ranges.
//!
//! A file is known by its UUID, not its path: the same file under two paths (a symlink,
//! `dir/./file`, two redirectors) would otherwise be counted once per path. A second walk,
//! over the chunks sorted by (dataset, UUID, tree, start, stop), refuses any two chunks of one
//! UUID and tree read under different paths whose ranges share entries (an overlap, naming
//! both paths). A chunk's identity is thus (dataset, file UUID, tree, entry range); a file in
//! two datasets is counted once in each.
//!
//! Every pair of partials sharing a chunk must cover the same chunk set and hold the same
//! accumulator; such copies form groups (union-find), of which the first by path is kept
//! and the others are left out. The merge then reads each kept partial once, so the
//! tree cannot count a chunk twice. Cost: one sort of all chunks, O(n log n).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use casa_formats::partial::{self, ChunkId, PartialHeader};
use serde::Serialize;

use crate::error::MergeError;

/// A scanned input.
pub struct Input {
    pub path: PathBuf,
    pub header: PartialHeader,
}

/// A partial left out because another one holds the same chunks and results.
#[derive(Clone, Debug, Serialize)]
pub struct Duplicate {
    pub kept: PathBuf,
    pub dropped: PathBuf,
    pub chunks: usize,
}

/// What to merge: indices of the kept inputs, and the copies left out.
pub struct Selection {
    pub unique: Vec<usize>,
    pub duplicates: Vec<Duplicate>,
}

struct E<'a> {
    c: &'a ChunkId,
    part: usize,
}

impl E<'_> {
    fn key(&self) -> (&str, &str, &str) {
        (&self.c.dataset, &self.c.file, &self.c.tree)
    }
}

/// Checks the chunks of every input and picks the partials to merge.
pub fn select(inputs: &[Input]) -> Result<Selection, MergeError> {
    let mut es: Vec<E> = inputs
        .iter()
        .enumerate()
        .flat_map(|(part, i)| i.header.chunks.iter().map(move |c| E { c, part }))
        .collect();
    es.sort_unstable_by(|a, b| {
        (a.key(), a.c.entry_start, a.c.entry_stop, a.part).cmp(&(
            b.key(),
            b.c.entry_start,
            b.c.entry_stop,
            b.part,
        ))
    });
    let mut pairs = BTreeSet::new();
    for file in es.chunk_by(|a, b| a.key() == b.key()) {
        let mut last: Option<&E> = None;
        let mut prev_empty: Option<&E> = None;
        for e in file {
            let range = (e.c.entry_start, e.c.entry_stop);
            if range.0 == range.1 {
                // Empty chunks hold no events: only an identical copy matters.
                if let Some(p) = prev_empty.filter(|p| (p.c.entry_start, p.c.entry_stop) == range) {
                    same_chunk(inputs, p, e, &mut pairs)?;
                }
                prev_empty = Some(e);
                continue;
            }
            match last {
                Some(l) if range.0 < l.c.entry_stop => {
                    if (l.c.entry_start, l.c.entry_stop) == range {
                        same_chunk(inputs, l, e, &mut pairs)?;
                    } else {
                        return Err(overlap(inputs, l, e));
                    }
                }
                _ => last = Some(e),
            }
        }
    }
    same_file_once(inputs, &mut es)?;
    // Every pair sharing a chunk must be copies; copies of copies are then all alike.
    let mut groups = UnionFind::new(inputs.len());
    for &(a, b) in &pairs {
        check_copies(&inputs[a], &inputs[b])?;
        groups.union(a, b);
    }
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); inputs.len()];
    for i in 0..inputs.len() {
        members[groups.find(i)].push(i);
    }
    let mut unique = Vec::new();
    let mut duplicates = Vec::new();
    for group in members.iter().filter(|g| !g.is_empty()) {
        // Inputs come sorted by path: the first is the one kept.
        let kept = group[0];
        unique.push(kept);
        for &other in &group[1..] {
            duplicates.push(Duplicate {
                kept: inputs[kept].path.clone(),
                dropped: inputs[other].path.clone(),
                chunks: inputs[other].header.chunks.len(),
            });
        }
    }
    unique.sort_unstable();
    Ok(Selection { unique, duplicates })
}

/// No entries of one file (by UUID) and tree are read under two paths. Sorted by (dataset,
/// UUID, tree, range), each chunk is compared with the one reaching furthest before it: the
/// first pair of chunks under different paths sharing entries always meets that way.
fn same_file_once(inputs: &[Input], es: &mut [E]) -> Result<(), MergeError> {
    fn key<'a>(e: &E<'a>) -> (&'a str, &'a str, &'a str) {
        (&e.c.dataset, &e.c.uuid, &e.c.tree)
    }
    es.sort_unstable_by(|a, b| {
        (key(a), a.c.entry_start, a.c.entry_stop).cmp(&(key(b), b.c.entry_start, b.c.entry_stop))
    });
    for file in es.chunk_by(|a, b| key(a) == key(b)) {
        if file[0].c.uuid.is_empty() {
            continue;
        }
        let mut furthest: Option<&E> = None;
        for e in file.iter().filter(|e| e.c.entry_start < e.c.entry_stop) {
            match furthest {
                Some(f) if e.c.entry_start < f.c.entry_stop => {
                    if f.c.file != e.c.file {
                        return Err(two_paths(inputs, f, e));
                    }
                    if e.c.entry_stop > f.c.entry_stop {
                        furthest = Some(e);
                    }
                }
                _ => furthest = Some(e),
            }
        }
    }
    Ok(())
}

fn two_paths(inputs: &[Input], a: &E, b: &E) -> MergeError {
    let what = format!(
        "{} tree {}: {} [{}, {}) and {} [{}, {}) are one file (UUID {}) under two paths: its entries would be counted twice",
        a.c.dataset,
        a.c.tree,
        a.c.file,
        a.c.entry_start,
        a.c.entry_stop,
        b.c.file,
        b.c.entry_start,
        b.c.entry_stop,
        a.c.uuid
    );
    MergeError::Overlap {
        a: inputs[a.part].path.clone(),
        b: inputs[b.part].path.clone(),
        what: if a.part == b.part {
            format!("{what} (in the same partial)")
        } else {
            what
        },
    }
}

/// The same chunk in two entries: a duplicate if in two partials reading the same file.
fn same_chunk(
    inputs: &[Input],
    a: &E,
    b: &E,
    pairs: &mut BTreeSet<(usize, usize)>,
) -> Result<(), MergeError> {
    let (pa, pb) = (&inputs[a.part].path, &inputs[b.part].path);
    if a.part == b.part {
        return Err(overlap(inputs, a, b));
    }
    if a.c.uuid != b.c.uuid {
        return Err(MergeError::Conflict {
            a: pa.clone(),
            b: pb.clone(),
            what: format!(
                "both cover {} {} {} [{}, {}) but read files with different UUIDs ({:?} and {:?}): the file changed between the two",
                a.c.dataset, a.c.file, a.c.tree, a.c.entry_start, a.c.entry_stop, a.c.uuid, b.c.uuid
            ),
        });
    }
    pairs.insert((a.part.min(b.part), a.part.max(b.part)));
    Ok(())
}

fn overlap(inputs: &[Input], a: &E, b: &E) -> MergeError {
    let what = format!(
        "{} {} {}: [{}, {}) and [{}, {})",
        a.c.dataset,
        a.c.file,
        a.c.tree,
        a.c.entry_start,
        a.c.entry_stop,
        b.c.entry_start,
        b.c.entry_stop
    );
    MergeError::Overlap {
        a: inputs[a.part].path.clone(),
        b: inputs[b.part].path.clone(),
        what: if a.part == b.part {
            format!("{what} in the same partial")
        } else {
            what
        },
    }
}

/// Two partials sharing a chunk must be copies: same chunk set, same events, same results.
fn check_copies(a: &Input, b: &Input) -> Result<(), MergeError> {
    let conflict = |what: String| MergeError::Conflict {
        a: a.path.clone(),
        b: b.path.clone(),
        what,
    };
    let mut ca: Vec<&ChunkId> = a.header.chunks.iter().collect();
    let mut cb: Vec<&ChunkId> = b.header.chunks.iter().collect();
    ca.sort_unstable();
    cb.sort_unstable();
    if ca != cb {
        let shared = ca.iter().find(|c| cb.binary_search(c).is_ok());
        return Err(conflict(format!(
            "both cover {} but they cover different chunk sets ({} and {} chunks); merge either the leaves or their merged outputs, not both",
            shared.map_or_else(String::new, |c| describe(c)),
            ca.len(),
            cb.len()
        )));
    }
    if a.header.events != b.header.events {
        return Err(conflict(format!(
            "they cover the same {} chunks but count {} and {} events",
            ca.len(),
            a.header.events,
            b.header.events
        )));
    }
    if !same_payload(&a.path, &b.path)? {
        return Err(conflict(format!(
            "they cover the same {} chunks but hold different results",
            ca.len()
        )));
    }
    Ok(())
}

fn describe(c: &ChunkId) -> String {
    format!(
        "{} {} {} [{}, {})",
        c.dataset, c.file, c.tree, c.entry_start, c.entry_stop
    )
}

/// Whether two partials hold the same accumulator: the same bytes, or (written by another
/// version, say) equal once read.
fn same_payload(a: &Path, b: &Path) -> Result<bool, MergeError> {
    let read = |p: &Path| partial::read(p).map_err(|e| MergeError::BadPartials(vec![e]));
    let (_, pa) = read(a)?;
    let (_, pb) = read(b)?;
    if pa == pb {
        return Ok(true);
    }
    let parse = |p: &Path, bytes: &[u8]| {
        serde_json::from_slice::<casa_hist::Accumulator>(bytes).map_err(|e| MergeError::Payload {
            path: p.to_path_buf(),
            what: e.to_string(),
        })
    };
    Ok(parse(a, &pa)? == parse(b, &pb)?)
}

struct UnionFind {
    parent: Vec<usize>,
}

impl UnionFind {
    fn new(n: usize) -> UnionFind {
        UnionFind {
            parent: (0..n).collect(),
        }
    }

    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    /// Joins two groups; the smaller index is the root, so a group's root is its first.
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        let (lo, hi) = (ra.min(rb), ra.max(rb));
        self.parent[hi] = lo;
    }
}
