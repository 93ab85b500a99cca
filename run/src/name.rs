//! Node names and run ids: what may be written into DAG and submit files, checked here only.
//!
//! casa makes every node name up itself (`leaf-000017`, `merge-2-000003`, `merge-final`), so
//! a name says the node's kind; anything else handed to a tool (a POST script's `$JOB`, a DAG
//! edited by hand) is refused by name instead of being taken for a path.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("bad node name {0:?}")]
    Node(String),
    #[error("run id {0:?} must be letters, digits and ._-")]
    RunId(String),
}

/// What a node does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NodeKind {
    /// Leaf job `N`: runs the plugin over the chunks of `jobs/leaf-N.json`.
    Leaf(usize),
    /// Merge node `index` of merge level `level` (1 = just above the leaves).
    Merge { level: u32, index: usize },
    /// The last merge: writes `result/`.
    Final,
}

/// A node name casa made up. Keeps the text it was parsed from, so names written by an older
/// planner with another zero padding still round-trip.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeName {
    text: String,
    kind: NodeKind,
}

const LEAF: &str = "leaf-";
const MERGE: &str = "merge-";
const FINAL: &str = "merge-final";

fn number<T: FromStr>(s: &str) -> Option<T> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

impl NodeName {
    pub fn leaf(index: usize) -> NodeName {
        NodeName {
            text: format!("{LEAF}{index:06}"),
            kind: NodeKind::Leaf(index),
        }
    }

    pub fn merge(level: u32, index: usize) -> NodeName {
        NodeName {
            text: format!("{MERGE}{level}-{index:06}"),
            kind: NodeKind::Merge { level, index },
        }
    }

    pub fn final_merge() -> NodeName {
        NodeName {
            text: FINAL.into(),
            kind: NodeKind::Final,
        }
    }

    /// The one place node names are validated.
    pub fn parse(s: &str) -> Result<NodeName, NameError> {
        let kind = if s == FINAL {
            Some(NodeKind::Final)
        } else if let Some(n) = s.strip_prefix(LEAF) {
            number(n).map(NodeKind::Leaf)
        } else if let Some(rest) = s.strip_prefix(MERGE) {
            rest.split_once('-').and_then(|(l, i)| {
                Some(NodeKind::Merge {
                    level: number(l)?,
                    index: number(i)?,
                })
            })
        } else {
            None
        };
        kind.map(|kind| NodeName {
            text: s.into(),
            kind,
        })
        .ok_or_else(|| NameError::Node(s.into()))
    }

    pub fn kind(&self) -> NodeKind {
        self.kind
    }

    pub fn is_leaf(&self) -> bool {
        matches!(self.kind, NodeKind::Leaf(_))
    }

    /// The leaf's number, for leaves.
    pub fn leaf_index(&self) -> Option<usize> {
        match self.kind {
            NodeKind::Leaf(i) => Some(i),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl FromStr for NodeName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NodeName::parse(s)
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl AsRef<str> for NodeName {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

/// A run's id: written into submit files (`+CasaRun`), job specs and partials.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RunId(String);

fn run_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "._-".contains(c)
}

impl RunId {
    /// The one place run ids are validated.
    pub fn new(s: &str) -> Result<RunId, NameError> {
        if s.is_empty() || !s.chars().all(run_id_char) {
            return Err(NameError::RunId(s.into()));
        }
        Ok(RunId(s.into()))
    }

    /// The default run id: the run directory's name, other characters replaced by `-`.
    pub fn from_dir(rundir: &Path) -> RunId {
        let id = rundir
            .file_name()
            .map(|n| {
                n.to_string_lossy()
                    .chars()
                    .map(|c| if run_id_char(c) { c } else { '-' })
                    .collect::<String>()
            })
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "casa".into());
        RunId(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_know_their_kind_and_round_trip() {
        for (n, kind) in [
            (NodeName::leaf(17), NodeKind::Leaf(17)),
            (
                NodeName::merge(2, 3),
                NodeKind::Merge { level: 2, index: 3 },
            ),
            (NodeName::final_merge(), NodeKind::Final),
            (NodeName::leaf(1_234_567), NodeKind::Leaf(1_234_567)),
        ] {
            assert_eq!(n.kind(), kind);
            assert_eq!(NodeName::parse(n.as_str()).unwrap(), n);
        }
        assert_eq!(NodeName::leaf(17).as_str(), "leaf-000017");
        assert_eq!(NodeName::merge(2, 3).as_str(), "merge-2-000003");
        assert_eq!(NodeName::parse("leaf-1").unwrap().leaf_index(), Some(1));
        for bad in [
            "",
            "leaf-",
            "leaf-x",
            "leaf-1/../x",
            "../leaf-1",
            "merge-1",
            "merge-1-",
            "merge--1",
            "merge-final2",
            "a",
            "leaf-+1",
            "leaf-1 ",
        ] {
            assert_eq!(
                NodeName::parse(bad),
                Err(NameError::Node(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn run_ids() {
        assert!(RunId::new("2026-11-22_dimuon.v2").is_ok());
        for bad in ["", "a b", "a/b", "x\"y"] {
            assert!(RunId::new(bad).is_err(), "{bad}");
        }
        assert_eq!(
            RunId::from_dir(Path::new("runs/my run:1")).as_str(),
            "my-run-1"
        );
        assert_eq!(RunId::from_dir(Path::new("/")).as_str(), "casa");
        let cleaned = RunId::from_dir(Path::new("runs/ä ö"));
        assert!(RunId::new(cleaned.as_str()).is_ok());
    }
}
