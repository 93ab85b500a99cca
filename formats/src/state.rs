//! The state file of one DAG node (`RUNDIR/state/<node>.json`): status, every attempt with its
//! exit class, host and times. Written atomically after every change, so a crash or a full
//! disk never leaves a corrupt state; a corrupt one is reported by name.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::fsutil::atomic_write;
use crate::job::check_version;

pub const STATE_FORMAT_VERSION: (u32, u32) = (1, 0);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeStatus {
    Pending,
    Running,
    Done,
    Failed,
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub started_unix: f64,
    pub ended_unix: f64,
    pub host: String,
    /// The job's exit code (negative for signals and runner failures).
    pub exit_code: i32,
    /// Its class, or "exit N" for a code outside casa-wrapper's table.
    pub exit_class: crate::exit::AttemptExit,
    /// The POST script's exit code (what decided the attempt).
    pub post_exit: Option<i32>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeState {
    pub format: String,
    pub version: String,
    pub node: String,
    pub status: NodeStatus,
    #[serde(default)]
    pub attempts: Vec<Attempt>,
    #[serde(default)]
    pub message: String,
    /// Events the node's job spec covers (leaf nodes).
    #[serde(default)]
    pub events_expected: u64,
    /// Events its verified partial holds.
    #[serde(default)]
    pub events_done: u64,
    /// The verified partial's own checksum (its trailing xxh64, hex), to tell later whether
    /// the file on disk is still the one that was verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial_checksum: Option<String>,
    /// Process group of the attempt running now (local runs), so a restarted runner can stop
    /// an attempt its killed predecessor left behind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pgid: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path}: cannot read state: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: corrupt state file: {what}")]
    Corrupt { path: String, what: String },
    #[error("{path}: cannot write state: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl NodeState {
    pub fn new(node: &str) -> NodeState {
        NodeState {
            format: "casa-state".into(),
            version: format!("{}.{}", STATE_FORMAT_VERSION.0, STATE_FORMAT_VERSION.1),
            node: node.into(),
            status: NodeStatus::Pending,
            attempts: Vec::new(),
            message: String::new(),
            events_expected: 0,
            events_done: 0,
            partial_checksum: None,
            pgid: None,
        }
    }

    /// Read a state file; `Ok(None)` when there is none yet.
    pub fn read(path: &Path) -> Result<Option<NodeState>, StateError> {
        let name = path.display().to_string();
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StateError::Read { path: name, source }),
        };
        let s: NodeState = serde_json::from_slice(&bytes).map_err(|e| StateError::Corrupt {
            path: name.clone(),
            what: e.to_string(),
        })?;
        if s.format != "casa-state" {
            return Err(StateError::Corrupt {
                path: name,
                what: format!("format is {:?}", s.format),
            });
        }
        check_version(&s.version, STATE_FORMAT_VERSION, "state").map_err(|e| {
            StateError::Corrupt {
                path: name.clone(),
                what: e.to_string(),
            }
        })?;
        Ok(Some(s))
    }

    /// Record one attempt that ends now: the job's exit code and its class, what the POST
    /// script decided, and the message, which becomes the node's. The POST script (on
    /// HTCondor) and the local runner both record through here.
    pub fn record_attempt(
        &mut self,
        started_unix: f64,
        host: &str,
        exit_code: i32,
        post_exit: Option<i32>,
        message: &str,
    ) {
        let ended_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        self.attempts.push(Attempt {
            started_unix,
            ended_unix,
            host: host.into(),
            exit_code,
            exit_class: crate::AttemptExit::from_code(exit_code),
            post_exit,
            message: message.into(),
        });
        self.message = message.into();
    }

    pub fn write(&self, path: &Path) -> Result<(), StateError> {
        let bytes = serde_json::to_vec_pretty(self).expect("state serialises");
        atomic_write(path, &bytes).map_err(|source| StateError::Write {
            path: path.display().to_string(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption_is_named() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("leaf-1.json");
        assert!(NodeState::read(&p).unwrap().is_none());
        let mut s = NodeState::new("leaf-1");
        s.status = NodeStatus::Done;
        s.write(&p).unwrap();
        assert_eq!(NodeState::read(&p).unwrap().unwrap(), s);
        std::fs::write(&p, b"{\"format\": \"casa-state\", \"vers").unwrap();
        let e = NodeState::read(&p).unwrap_err().to_string();
        assert!(e.contains("leaf-1.json") && e.contains("corrupt"), "{e}");
    }

    /// A state file as casa wrote it when the exit class was a string reads, and writes back
    /// the same bytes.
    #[test]
    fn older_state_files_keep_their_bytes() {
        let text = r#"{
  "format": "casa-state",
  "version": "1.0",
  "node": "merge-1-000000",
  "status": "done",
  "attempts": [
    {
      "started_unix": 1.5,
      "ended_unix": 2.5,
      "host": "local",
      "exit_code": 23,
      "exit_class": "exit 23",
      "post_exit": 1,
      "message": "merge-1-000000: casa-merge exited 23"
    },
    {
      "started_unix": 3.0,
      "ended_unix": 4.0,
      "host": "local",
      "exit_code": 10,
      "exit_class": "retryable_input",
      "post_exit": null,
      "message": ""
    }
  ],
  "message": "",
  "events_expected": 0,
  "events_done": 0
}"#;
        let s: NodeState = serde_json::from_str(text).unwrap();
        assert_eq!(s.attempts[0].exit_class, crate::AttemptExit::Code(23));
        assert_eq!(
            s.attempts[1].exit_class.class(),
            Some(crate::ExitClass::RetryableInput)
        );
        assert_eq!(serde_json::to_string_pretty(&s).unwrap(), text);
        let bad = text.replace("\"exit 23\"", "\"exited\"");
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("merge-1-000000.json");
        std::fs::write(&p, bad).unwrap();
        let e = NodeState::read(&p).unwrap_err().to_string();
        assert!(
            e.contains("merge-1-000000.json") && e.contains("exited"),
            "{e}"
        );
    }
}
