//! The reduction tree: partials are added in groups of at most `fan_in`, groups of groups
//! likewise, depth first, with sibling subtrees on the rayon pool. Each thread holds the
//! accumulator of the group it is folding, the partial it is reading, and the finished
//! siblings waiting on its stack, so memory is about `jobs × (depth + 2)` accumulators
//! (depth = log_fan_in(n)), never proportional to the number of partials.
//!
//! Addition is exact, so neither the shape of the tree nor the order in which threads finish
//! changes a single bit of the result.

use std::collections::BTreeSet;
use std::path::PathBuf;

use casa_formats::partial;
use rayon::prelude::*;

use crate::acc::{AddError, MergeAcc};
use crate::error::MergeError;
use crate::payload;

/// A partial to merge: its path and the datasets its header's chunks are from (the payload
/// may hold no other).
pub struct Source {
    pub path: PathBuf,
    pub datasets: BTreeSet<String>,
}

/// Merges the partials `leaves` (indices into `paths`).
pub fn merge(paths: &[Source], leaves: &[usize], fan_in: usize) -> Result<MergeAcc, MergeError> {
    let fan_in = fan_in.max(2);
    node(paths, leaves, fan_in)
}

fn node(paths: &[Source], leaves: &[usize], k: usize) -> Result<MergeAcc, MergeError> {
    if leaves.len() <= k {
        let mut acc = MergeAcc::default();
        for &i in leaves {
            let leaf = load(paths, i)?;
            acc.add(leaf).map_err(|e| incompatible(paths, e))?;
        }
        return Ok(acc);
    }
    // Full subtrees first: children of k^d leaves, so every node has at most k inputs.
    let mut sub = 1;
    while sub * k < leaves.len() {
        sub *= k;
    }
    leaves
        .par_chunks(sub)
        .map(|c| node(paths, c, k))
        .try_reduce(MergeAcc::default, |mut a, b| {
            a.add(b).map_err(|e| incompatible(paths, e))?;
            Ok(a)
        })
}

/// Reads, verifies and parses one partial.
pub fn load(paths: &[Source], i: usize) -> Result<MergeAcc, MergeError> {
    let Source { path, datasets } = &paths[i];
    let json = crate::envelope::payload(path).map_err(|e| MergeError::BadPartials(vec![e]))?;
    let acc = payload::parse(&json, i).map_err(|e| MergeError::Payload {
        path: path.clone(),
        what: e.to_string(),
    })?;
    partial::check_payload_datasets(
        datasets,
        acc.datasets.iter().map(String::as_str),
        &path.display().to_string(),
    )
    .map_err(|e| MergeError::BadPartials(vec![e]))?;
    Ok(acc)
}

fn incompatible(paths: &[Source], e: AddError) -> MergeError {
    if let Some(i) = e.malformed {
        // A histogram no reader can take is a corrupt partial, whichever command finds it.
        return MergeError::Payload {
            path: paths[i].path.clone(),
            what: e.what,
        };
    }
    MergeError::Incompatible {
        a: paths[e.a].path.clone(),
        b: paths[e.b].path.clone(),
        what: e.what,
    }
}
