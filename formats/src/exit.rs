//! The exit-code table. casa-wrapper exits with one of these codes; the DAGMan POST script
//! (`casa-submit post`) turns them into "done", "retry" or "give up" (RETRY n UNLESS-EXIT).
//! docs/exit-codes.md renders this table; keep them in step.

/// What happened to a job, as its exit code says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitClass {
    /// The partial and the metrics are written and verified.
    Success,
    /// A bug or an unexpected condition in casa itself.
    Internal,
    /// The command line was wrong.
    Usage,
    /// An input could not be read now (timeout, connection refused/reset, server busy):
    /// retrying, perhaps elsewhere, may succeed.
    RetryableInput,
    /// An input is bad for good (not a ROOT file, corrupt basket, missing tree or branch):
    /// retrying will not help.
    PermanentInput,
    /// The analysis plugin failed: wrong ABI version, missing symbol, asked for a column that
    /// does not exist, returned an error or panicked.
    PluginFault,
    /// The partial or the metrics could not be written (full disk, permissions).
    OutputFault,
    /// The job spec is malformed or inconsistent.
    InvalidJob,
    /// SIGTERM (eviction) arrived: the job stopped cleanly and wrote no partial.
    Evicted,
}

impl ExitClass {
    /// Every class, in table order.
    pub const ALL: [ExitClass; 9] = [
        ExitClass::Success,
        ExitClass::Internal,
        ExitClass::Usage,
        ExitClass::RetryableInput,
        ExitClass::PermanentInput,
        ExitClass::PluginFault,
        ExitClass::OutputFault,
        ExitClass::InvalidJob,
        ExitClass::Evicted,
    ];

    /// The process exit code.
    pub const fn code(self) -> u8 {
        match self {
            ExitClass::Success => 0,
            ExitClass::Internal => 1,
            ExitClass::Usage => 2,
            ExitClass::RetryableInput => 10,
            ExitClass::PermanentInput => 11,
            ExitClass::PluginFault => 12,
            ExitClass::OutputFault => 13,
            ExitClass::InvalidJob => 14,
            ExitClass::Evicted => 15,
        }
    }

    pub fn from_code(code: i32) -> Option<ExitClass> {
        ExitClass::ALL.into_iter().find(|c| c.code() as i32 == code)
    }

    /// Whether running the job again can help.
    pub const fn retryable(self) -> bool {
        matches!(
            self,
            ExitClass::RetryableInput
                | ExitClass::OutputFault
                | ExitClass::Evicted
                | ExitClass::Internal
        )
    }

    pub const fn name(self) -> &'static str {
        match self {
            ExitClass::Success => "success",
            ExitClass::Internal => "internal",
            ExitClass::Usage => "usage",
            ExitClass::RetryableInput => "retryable_input",
            ExitClass::PermanentInput => "permanent_input",
            ExitClass::PluginFault => "plugin_fault",
            ExitClass::OutputFault => "output_fault",
            ExitClass::InvalidJob => "invalid_job",
            ExitClass::Evicted => "evicted",
        }
    }

    pub const fn meaning(self) -> &'static str {
        match self {
            ExitClass::Success => "partial and metrics written and verified",
            ExitClass::Internal => "unexpected error in casa itself",
            ExitClass::Usage => "bad command line",
            ExitClass::RetryableInput => "input unreachable now (timeout, refused, busy): retry",
            ExitClass::PermanentInput => {
                "input bad for good (corrupt, not ROOT, missing tree/branch)"
            }
            ExitClass::PluginFault => "plugin failed (ABI, missing column, error, panic)",
            ExitClass::OutputFault => "partial or metrics could not be written",
            ExitClass::InvalidJob => "job spec malformed or inconsistent",
            ExitClass::Evicted => "SIGTERM: stopped cleanly, no partial written",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for c in ExitClass::ALL {
            assert!(seen.insert(c.code()), "{c:?}");
            assert_eq!(ExitClass::from_code(c.code() as i32), Some(c));
        }
    }

    #[test]
    fn the_docs_table_lists_every_class() {
        let doc = include_str!("../../docs/exit-codes.md");
        for c in ExitClass::ALL {
            let row = format!("| {} | `{}` |", c.code(), c.name());
            assert!(doc.contains(&row), "docs/exit-codes.md lacks `{row}`");
        }
    }
}
