//! The local runner's decisions, without processes: which nodes are ready, which may start
//! under `-j` and the categories' MAXJOBS, and what an attempt's exit means for its node
//! (done, retry, failed for good), as DAGMan decides them for what casa writes.
//!
//! The runner asks [`Scheduler::next`] for work, hands each attempt to its executor and tells
//! [`Scheduler::finish`] how it ended; nothing here sleeps, spawns or touches files.

use std::collections::{HashMap, VecDeque};

use casa_formats::NodeStatus;

use crate::dag::Dag;

/// What an attempt's end means for its node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Done (or skipped, if the POST script recorded a skip): its children may become ready.
    Done,
    Skipped,
    /// Queued again; `attempt` is the retry number the next attempt gets (DAGMan's `$RETRY`).
    Retry {
        attempt: u32,
    },
    /// Failed for good: out of retries, or the UNLESS-EXIT value.
    Failed,
    /// Interrupted: back to pending, for the next run.
    Pending,
}

pub struct Scheduler<'a> {
    dag: &'a Dag,
    status: Vec<NodeStatus>,
    retries: Vec<u32>,
    queue: VecDeque<usize>,
    per_category: HashMap<&'a str, usize>,
    running: usize,
    finished: usize,
    failed: usize,
}

impl<'a> Scheduler<'a> {
    /// `initial[i]` is node `i`'s status when the run starts: done and skipped nodes stay so,
    /// anything else is pending.
    pub fn new(dag: &'a Dag, initial: &[NodeStatus]) -> Scheduler<'a> {
        let status: Vec<NodeStatus> = initial
            .iter()
            .map(|s| match s {
                NodeStatus::Done | NodeStatus::Skipped => *s,
                _ => NodeStatus::Pending,
            })
            .collect();
        assert_eq!(status.len(), dag.nodes().len(), "one status per node");
        let finished = status.iter().filter(|s| **s != NodeStatus::Pending).count();
        let mut s = Scheduler {
            dag,
            retries: vec![0; status.len()],
            status,
            queue: VecDeque::new(),
            per_category: HashMap::new(),
            running: 0,
            finished,
            failed: 0,
        };
        s.queue = (0..s.status.len()).filter(|&i| s.ready(i)).collect();
        s
    }

    fn ready(&self, i: usize) -> bool {
        self.status[i] == NodeStatus::Pending
            && self
                .dag
                .node(i)
                .parents
                .iter()
                .all(|&p| matches!(self.status[p], NodeStatus::Done | NodeStatus::Skipped))
    }

    fn category(&self, i: usize) -> Option<&'a str> {
        self.dag.node(i).category.as_deref()
    }

    /// The next node to start, and its attempt number (`$RETRY`), if one may start with
    /// `max_running` attempts at once. It is then running until [`Scheduler::finish`].
    pub fn next(&mut self, max_running: usize) -> Option<(usize, u32)> {
        if self.running >= max_running.max(1) {
            return None;
        }
        let pos = self.queue.iter().position(|&i| {
            self.category(i).is_none_or(|c| {
                let limit = self.dag.limit(c).unwrap_or(usize::MAX);
                self.per_category.get(c).copied().unwrap_or(0) < limit
            })
        })?;
        let i = self.queue.remove(pos).expect("position is valid");
        if let Some(c) = self.category(i) {
            *self.per_category.entry(c).or_default() += 1;
        }
        self.status[i] = NodeStatus::Running;
        self.running += 1;
        Some((i, self.retries[i]))
    }

    /// Node `i`'s attempt ended with `exit` (the POST script's, or the job's when there is
    /// none); `skipped` when its POST script recorded a skip; `interrupted` when the run is
    /// being stopped.
    pub fn finish(&mut self, i: usize, exit: i32, skipped: bool, interrupted: bool) -> Decision {
        assert_eq!(
            self.status[i],
            NodeStatus::Running,
            "node {i} was not started"
        );
        self.running -= 1;
        if let Some(c) = self.category(i) {
            *self.per_category.entry(c).or_default() -= 1;
        }
        let node = self.dag.node(i);
        let (status, decision) = if interrupted && exit != 0 {
            (NodeStatus::Pending, Decision::Pending)
        } else if exit == 0 {
            match skipped {
                true => (NodeStatus::Skipped, Decision::Skipped),
                false => (NodeStatus::Done, Decision::Done),
            }
        } else {
            let retry = node.retry.unwrap_or(crate::dag::Retry {
                count: 0,
                unless_exit: None,
            });
            if Some(exit) != retry.unless_exit && self.retries[i] < retry.count {
                self.retries[i] += 1;
                (
                    NodeStatus::Pending,
                    Decision::Retry {
                        attempt: self.retries[i],
                    },
                )
            } else {
                (NodeStatus::Failed, Decision::Failed)
            }
        };
        self.status[i] = status;
        match decision {
            Decision::Done | Decision::Skipped => {
                self.finished += 1;
                for &c in &node.children {
                    if self.ready(c) {
                        self.queue.push_back(c);
                    }
                }
            }
            Decision::Retry { .. } => self.queue.push_back(i),
            Decision::Failed => self.failed += 1,
            Decision::Pending => {}
        }
        decision
    }

    pub fn status(&self, i: usize) -> NodeStatus {
        self.status[i]
    }
    pub fn statuses(&self) -> &[NodeStatus] {
        &self.status
    }
    /// Attempts running now.
    pub fn running(&self) -> usize {
        self.running
    }
    /// Nodes done or skipped (also those that were before the run).
    pub fn finished(&self) -> usize {
        self.finished
    }
    /// Nodes failed for good.
    pub fn failed(&self) -> usize {
        self.failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dag::Node;

    /// Two leaves (retry 2, not on exit 42) under a merge of category `merge` (MAXJOBS 1),
    /// and a second merge of the same category.
    fn dag() -> Dag {
        let mut d = Dag::new();
        for n in ["a", "b"] {
            d.add_node(Node::new(n, "leaf.sub").retry(2, Some(42)))
                .unwrap();
        }
        for n in ["m", "n"] {
            d.add_node(Node::new(n, "merge.sub").category("merge").retry(1, None))
                .unwrap();
        }
        d.add_edge(0, 2);
        d.add_edge(1, 2);
        d.max_jobs("merge", 1);
        d
    }

    fn run_all(s: &mut Scheduler, exits: &mut dyn FnMut(usize, u32) -> i32) -> Vec<(usize, u32)> {
        let mut started = Vec::new();
        while let Some((i, a)) = s.next(8) {
            started.push((i, a));
            let e = exits(i, a);
            s.finish(i, e, false, false);
        }
        started
    }

    #[test]
    fn ready_set_follows_the_edges_and_maxjobs() {
        let d = dag();
        let mut s = Scheduler::new(&d, &[NodeStatus::Pending; 4]);
        // a, b and n are ready; m waits for a and b; one merge at a time.
        assert_eq!(s.next(8), Some((0, 0)));
        assert_eq!(s.next(8), Some((1, 0)));
        assert_eq!(s.next(8), Some((3, 0)));
        assert_eq!(s.next(8), None);
        assert_eq!(s.finish(0, 0, false, false), Decision::Done);
        assert_eq!(s.finish(1, 0, true, false), Decision::Skipped);
        // m is ready, but n holds the merge category's one slot.
        assert_eq!(s.next(8), None);
        assert_eq!(s.finish(3, 0, false, false), Decision::Done);
        assert_eq!(s.next(8), Some((2, 0)));
        assert_eq!(s.finish(2, 0, false, false), Decision::Done);
        assert_eq!((s.finished(), s.failed(), s.running()), (4, 0, 0));
    }

    #[test]
    fn the_job_limit_holds() {
        let d = dag();
        let mut s = Scheduler::new(&d, &[NodeStatus::Pending; 4]);
        assert!(s.next(1).is_some());
        assert_eq!(s.next(1), None);
        assert_eq!(s.next(0), None, "-j 0 is -j 1");
    }

    #[test]
    fn retries_until_the_count_or_the_unless_exit_value() {
        let d = dag();
        let mut s = Scheduler::new(&d, &[NodeStatus::Pending; 4]);
        // a always fails with 1 (retried twice, then failed); b fails with 42 (not retried).
        let started = run_all(&mut s, &mut |i, _| match i {
            0 => 1,
            1 => 42,
            _ => 0,
        });
        assert_eq!(
            started
                .iter()
                .filter(|(i, _)| *i == 0)
                .map(|(_, a)| *a)
                .collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        assert_eq!(started.iter().filter(|(i, _)| *i == 1).count(), 1);
        assert_eq!(s.status(0), NodeStatus::Failed);
        assert_eq!(s.status(1), NodeStatus::Failed);
        // m never ran: its parents failed.
        assert_eq!(s.status(2), NodeStatus::Pending);
        assert_eq!(s.failed(), 2);
    }

    #[test]
    fn a_crash_once_is_retried_and_done_nodes_are_not_rerun() {
        let d = dag();
        let init = [
            NodeStatus::Done,
            NodeStatus::Failed,
            NodeStatus::Pending,
            NodeStatus::Running,
        ];
        let mut s = Scheduler::new(&d, &init);
        assert_eq!(s.finished(), 1);
        let started = run_all(&mut s, &mut |i, a| if i == 1 && a == 0 { -9 } else { 0 });
        assert!(!started.iter().any(|(i, _)| *i == 0));
        assert!(started.contains(&(1, 1)));
        assert!(s.statuses().iter().all(|s| *s == NodeStatus::Done));
    }

    #[test]
    fn an_interrupted_attempt_goes_back_to_pending() {
        let d = dag();
        let mut s = Scheduler::new(&d, &[NodeStatus::Pending; 4]);
        let (i, _) = s.next(8).unwrap();
        assert_eq!(s.finish(i, -15, false, true), Decision::Pending);
        assert_eq!(s.status(i), NodeStatus::Pending);
        // A success while stopping still counts.
        let (j, _) = s.next(8).unwrap();
        assert_eq!(s.finish(j, 0, false, true), Decision::Done);
    }
}
