//! Where batches start and stop: one policy for everything that cuts an entry range (the
//! wrapper's batches, `preprocess`'s cluster-aligned steps, later executors), so they agree.
//! Cuts fall on the source's common storage-unit boundaries, so no unit is decompressed twice
//! (except, by choice, in a split first batch).

use crate::error::Result;
use crate::event::EventSource;

/// How to cut `[start, stop)` into batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPolicy {
    /// About this many entries per batch: a batch grows boundary by boundary until it holds at
    /// least this many (0 counts as 1), and the last one takes what is left.
    pub target_entries: u64,
    /// The first boundary-to-boundary step is a batch of its own, and the next batch starts
    /// fresh: the consumer gets events after one cluster instead of after `target_entries`.
    pub first_step_alone: bool,
    /// End the first batch sooner still, at the first storage-unit boundary of any column
    /// read. At most one unit per column is then decompressed twice, and only where units are
    /// smaller than clusters (the start of a file).
    pub split_first_unit: bool,
}

impl BatchPolicy {
    /// Batches of about `target` entries on common boundaries; the same cut gives coffea's
    /// `align_clusters` steps.
    pub fn even(target: u64) -> BatchPolicy {
        BatchPolicy {
            target_entries: target,
            first_step_alone: false,
            split_first_unit: false,
        }
    }

    /// The job wrapper's: a small first batch so the plugin starts early (time to first
    /// event), then about `target` entries each.
    pub fn quick_start(target: u64) -> BatchPolicy {
        BatchPolicy {
            target_entries: target,
            first_step_alone: true,
            split_first_unit: true,
        }
    }

    /// The batches for reading `columns` of `source` over `[start, stop)`.
    pub fn batches(
        &self,
        source: &dyn EventSource,
        columns: &[&str],
        start: u64,
        stop: u64,
    ) -> Result<Vec<(u64, u64)>> {
        let bounds = source.boundaries(columns)?;
        let first_unit_end = if self.split_first_unit && start < stop {
            source.first_unit_end(columns, start)
        } else {
            None
        };
        Ok(self.cut(&bounds, start, stop, first_unit_end))
    }

    /// The cut itself, from the common `bounds` (sorted) and, for `split_first_unit`, the end
    /// of the first unit holding `start`.
    pub fn cut(
        &self,
        bounds: &[u64],
        start: u64,
        stop: u64,
        first_unit_end: Option<u64>,
    ) -> Vec<(u64, u64)> {
        // Steps: from boundary to boundary inside the range.
        let mut steps = Vec::new();
        let mut lo = start;
        for &x in bounds {
            if x > lo && x <= stop {
                steps.push((lo, x));
                lo = x;
            }
        }
        if lo < stop {
            steps.push((lo, stop));
        }
        let target = self.target_entries.max(1);
        let mut out: Vec<(u64, u64)> = Vec::new();
        for (i, &(lo, hi)) in steps.iter().enumerate() {
            let fresh = self.first_step_alone && i <= 1;
            match out.last_mut() {
                Some(last) if !fresh && last.1 - last.0 < target => last.1 = hi,
                _ => out.push((lo, hi)),
            }
        }
        if let (Some(&first), Some(end)) = (out.first(), first_unit_end) {
            if end > first.0 && end < first.1 {
                out[0] = (first.0, end);
                out.insert(1, (end, first.1));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_batches_grow_to_the_target_and_the_last_takes_the_rest() {
        let p = BatchPolicy::even(150);
        let b = [0, 100, 200, 300, 350];
        assert_eq!(p.cut(&b, 0, 350, None), vec![(0, 200), (200, 350)]);
        // A range inside the boundaries: the ends are not boundaries.
        assert_eq!(p.cut(&b, 50, 320, None), vec![(50, 200), (200, 320)]);
        assert_eq!(p.cut(&b, 10, 10, None), vec![]);
        assert_eq!(BatchPolicy::even(0).cut(&b, 0, 350, None).len(), 4);
    }

    #[test]
    fn quick_start_keeps_the_first_step_alone_and_splits_it_at_the_first_unit() {
        let p = BatchPolicy::quick_start(150);
        let b = [0, 100, 200, 300, 350, 500];
        assert_eq!(
            p.cut(&b, 0, 500, None),
            vec![(0, 100), (100, 300), (300, 500)]
        );
        assert_eq!(
            p.cut(&b, 0, 500, Some(40)),
            vec![(0, 40), (40, 100), (100, 300), (300, 500)]
        );
        // A unit end at or past the first batch's end changes nothing.
        assert_eq!(p.cut(&b, 0, 500, Some(100)), p.cut(&b, 0, 500, None));
    }
}
