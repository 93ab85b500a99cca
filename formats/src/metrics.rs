//! What a job measured about itself, written beside its partial (`--metrics`). casa-merge
//! aggregates these into the run report.

use serde::{Deserialize, Serialize};

/// Per-job metrics. Times in seconds; distributions as HdrHistogram V2 (deflate) in base64,
/// the format every HdrHistogram implementation reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobMetrics {
    /// Always "casa-metrics".
    pub format: String,
    pub version: String,
    pub run_id: String,
    pub node: String,
    pub host: String,
    /// The exit class the job ended with.
    pub exit_class: crate::ExitClass,
    /// Why the job failed (naming the file, dataset or field), empty on success (since 1.1).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
    pub chunks: u64,
    pub events: u64,
    pub batches: u64,
    /// Compressed bytes fetched from the inputs.
    pub bytes_read: u64,
    pub read_requests: u64,
    /// Bytes after decompression (data regions of the baskets used).
    pub bytes_decompressed: u64,
    pub baskets: u64,
    pub wall_s: f64,
    pub cpu_s: f64,
    /// Opening files and fetching baskets.
    pub io_s: f64,
    /// Decompressing and decoding baskets into columns.
    pub decode_s: f64,
    /// Inside the plugin.
    pub plugin_s: f64,
    /// From process start to the first batch handed to the plugin.
    pub time_to_first_event_ms: f64,
    pub peak_rss_kb: u64,
    /// Read latency per request, microseconds, keyed by input server ("local" for files).
    #[serde(default)]
    pub read_latency_us: std::collections::BTreeMap<String, String>,
    /// Processing time per batch, microseconds.
    #[serde(default)]
    pub batch_time_us: String,
    /// Per input server: the requests timed in `read_latency_us`, the bytes they returned
    /// and the time spent in them, for per-byte figures (since 1.2).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub reads_by_server: std::collections::BTreeMap<String, ServerReads>,
    /// Checkpointing (since 1.2; absent when the job wrote none). Counters above sum every
    /// attempt of a resumed job; `wall_s`, `cpu_s` and the distributions are this attempt's.
    #[serde(default, skip_serializing_if = "CheckpointMetrics::is_empty")]
    pub checkpoint: CheckpointMetrics,
}

/// What checkpointing cost and saved a job (`casa-wrapper run --checkpoint-dir`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMetrics {
    /// Checkpoints written, over every attempt.
    pub written: u32,
    /// Times the job resumed from a checkpoint.
    pub resumed: u32,
    /// Events handed to the plugin a second time: an attempt processed them, then died
    /// before its next checkpoint.
    pub events_reprocessed: u64,
    /// Time spent writing checkpoints, seconds, over every attempt.
    pub write_s: f64,
    /// Size of the last checkpoint written, bytes.
    pub last_bytes: u64,
    /// Wall time of the attempts before this one, seconds.
    pub earlier_wall_s: f64,
}

impl CheckpointMetrics {
    pub fn is_empty(&self) -> bool {
        *self == CheckpointMetrics::default()
    }
}

/// What one input server served a job (or a run).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerReads {
    /// Read requests: one per single read and one per vector read, however many ranges.
    pub requests: u64,
    pub bytes: u64,
    /// Time spent waiting for these requests.
    pub seconds: f64,
}

impl ServerReads {
    pub fn add(&mut self, o: &ServerReads) {
        self.requests += o.requests;
        self.bytes += o.bytes;
        self.seconds += o.seconds;
    }

    /// Microseconds per KiB read (the time a byte costs, whatever the request size).
    pub fn us_per_kib(&self) -> f64 {
        self.seconds * 1e6 / (self.bytes as f64 / 1024.0).max(1e-9)
    }

    /// Bytes per second while waiting for reads, in MB/s.
    pub fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.seconds.max(1e-9)
    }
}

pub const METRICS_FORMAT_VERSION: &str = "1.2";

#[cfg(test)]
mod tests {
    use super::*;

    /// Metrics as the wrapper wrote them read into the typed class and write back the same
    /// bytes; an unknown class is refused.
    #[test]
    fn the_exit_class_keeps_its_string() {
        let mut m = JobMetrics {
            exit_class: crate::ExitClass::PermanentInput,
            ..Default::default()
        };
        let text = serde_json::to_string(&m).unwrap();
        assert!(text.contains(r#""exit_class":"permanent_input""#), "{text}");
        assert_eq!(serde_json::from_str::<JobMetrics>(&text).unwrap(), m);
        m.exit_class = crate::ExitClass::Success;
        let bad = serde_json::to_string(&m)
            .unwrap()
            .replace(r#""success""#, r#""succeeded""#);
        assert!(serde_json::from_str::<JobMetrics>(&bad).is_err());
    }
}
