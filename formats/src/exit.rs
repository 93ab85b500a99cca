//! casa's exit codes: one table for every tool, because a DAG's POST script sees the codes of
//! casa-wrapper and casa-merge side by side and must never mistake one for the other.
//!
//! [`TABLE`] lists every code of every tool (code, name, meaning, what the DAG does with it);
//! the typed classes each tool exits with ([`ExitClass`] for casa-wrapper run, [`MergeExit`],
//! [`PostExit`], [`CommandExit`]) take their codes, names and meanings from it. docs/exit-codes.md
//! renders the table and the README summarises it; the tests below fail when either drifts.

use std::fmt;

/// A casa program (or subcommand) with codes of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tool {
    /// `casa-wrapper run`, the leaf job.
    Wrapper,
    /// `casa-wrapper inspect`.
    Inspect,
    /// `casa-merge` (also the DAG's merge nodes).
    Merge,
    /// `casa-submit`'s commands other than `post`.
    Submit,
    /// `casa-submit post`, the DAGMan POST script.
    Post,
    /// `casa-submit status`: what the run's state says, so scripts can wait on it.
    Status,
}

impl Tool {
    /// Every tool, in table order.
    pub const ALL: [Tool; 6] = [
        Tool::Wrapper,
        Tool::Inspect,
        Tool::Merge,
        Tool::Submit,
        Tool::Post,
        Tool::Status,
    ];

    /// The command, as the docs name it.
    pub const fn command(self) -> &'static str {
        match self {
            Tool::Wrapper => "casa-wrapper run",
            Tool::Inspect => "casa-wrapper inspect",
            Tool::Merge => "casa-merge",
            Tool::Submit => "casa-submit",
            Tool::Post => "casa-submit post",
            Tool::Status => "casa-submit status",
        }
    }

    /// The tool's codes, in code order.
    pub const fn codes(self) -> &'static [Code] {
        match self {
            Tool::Wrapper => &WRAPPER,
            Tool::Inspect => &INSPECT,
            Tool::Merge => &MERGE,
            Tool::Submit => &SUBMIT,
            Tool::Post => &POST,
            Tool::Status => &STATUS,
        }
    }
}

/// What the DAG does when a node ends with a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Nothing to decide: success, or a command no DAG node runs.
    NotApplicable,
    /// Retried (`RETRY n`).
    Yes,
    /// Not retried (`UNLESS-EXIT`).
    No,
}

impl Retry {
    pub const fn as_str(self) -> &'static str {
        match self {
            Retry::NotApplicable => "—",
            Retry::Yes => "yes",
            Retry::No => "no",
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    pub tool: Tool,
    pub code: u8,
    /// The class name, as metrics, state files and `--json` errors spell it.
    pub name: &'static str,
    pub meaning: &'static str,
    pub retry: Retry,
}

impl Code {
    /// The row as docs/exit-codes.md writes it.
    pub fn markdown_row(&self) -> String {
        format!(
            "| {} | {} | `{}` | {} | {} |",
            self.tool.command(),
            self.code,
            self.name,
            self.meaning,
            self.retry.as_str()
        )
    }
}

const fn row(
    tool: Tool,
    code: u8,
    name: &'static str,
    meaning: &'static str,
    retry: Retry,
) -> Code {
    Code {
        tool,
        code,
        name,
        meaning,
        retry,
    }
}

use Retry::{No, NotApplicable as Na, Yes};

/// How often a leaf job checkpoints unless told otherwise, seconds (casa-wrapper's
/// `--checkpoint-every`, the site's `checkpoint_every`).
pub const DEFAULT_CHECKPOINT_EVERY_S: u64 = 300;

/// casa-wrapper run, indexed by [`ExitClass`].
#[rustfmt::skip]
const WRAPPER: [Code; 10] = [
    row(Tool::Wrapper, 0, "success", "partial and metrics written and verified", Na),
    row(Tool::Wrapper, 1, "internal", "unexpected error in casa itself", Yes),
    row(Tool::Wrapper, 2, "usage", "bad command line", No),
    row(Tool::Wrapper, 10, "retryable_input", "input unreachable now (timeout, refused, busy)", Yes),
    row(Tool::Wrapper, 11, "permanent_input", "input bad for good (corrupt, not ROOT, missing tree/branch); with `--skip-bad-files` the node is skipped and reported", No),
    row(Tool::Wrapper, 12, "plugin_fault", "plugin failed (ABI version, missing column, error, panic)", No),
    row(Tool::Wrapper, 13, "output_fault", "partial or metrics could not be written", Yes),
    row(Tool::Wrapper, 14, "invalid_job", "job spec malformed or inconsistent", No),
    row(Tool::Wrapper, 15, "evicted", "SIGTERM: stopped cleanly, no partial written", Yes),
    row(Tool::Wrapper, 85, "checkpointed", "checkpoint written (every `--checkpoint-every` seconds or on SIGTERM with `--checkpoint-dir`): run the job again to resume; HTCondor does so itself (`checkpoint_exit_code = 85`)", Yes),
];

/// casa-wrapper inspect, indexed by [`CommandExit`].
#[rustfmt::skip]
const INSPECT: [Code; 3] = [
    row(Tool::Inspect, 0, "success", "the file was read and described", Na),
    row(Tool::Inspect, 1, "failure", "the file or request is bad (the message names the file, tree, branch and byte offset)", Na),
    row(Tool::Inspect, 2, "usage", "bad command line", Na),
];

/// casa-merge, indexed by [`MergeExit`]: 20-28 (20-29 kept for it), apart from casa-wrapper's 10-15.
#[rustfmt::skip]
const MERGE: [Code; 12] = [
    row(Tool::Merge, 0, "success", "merged; every requested output written", Na),
    row(Tool::Merge, 1, "internal", "unexpected error in casa-merge itself", Yes),
    row(Tool::Merge, 2, "usage", "bad command line, or nothing to merge", Yes),
    row(Tool::Merge, 20, "unreadable", "an input file or directory cannot be read (missing, permissions, I/O error)", Yes),
    row(Tool::Merge, 21, "corrupt", "a partial is corrupt, truncated or not a partial (checksum, lengths, magic, payload)", Yes),
    row(Tool::Merge, 22, "version", "a partial has a format version this casa-merge cannot read (another major, or a newer minor)", Yes),
    row(Tool::Merge, 23, "conflict", "two partials cover the same chunk but are not identical copies", Yes),
    row(Tool::Merge, 24, "overlap", "two chunks of the same file and tree have overlapping, different entry ranges", Yes),
    row(Tool::Merge, 25, "incompatible", "partials cannot be added: histogram axes or storage differ, histogram vs counter, other plugin or run", Yes),
    row(Tool::Merge, 26, "coverage", "the merged chunks miss planned events (strict mode) or cover events the plan does not have", Yes),
    row(Tool::Merge, 27, "output", "an output could not be written", Yes),
    row(Tool::Merge, 28, "plan", "a job spec of the plan is unreadable or invalid", Yes),
];

/// casa-submit's other commands, indexed by [`CommandExit`].
#[rustfmt::skip]
const SUBMIT: [Code; 3] = [
    row(Tool::Submit, 0, "success", "done", Na),
    row(Tool::Submit, 1, "failure", "the command failed: `preprocess` or `plan` could not read an input file (without `--skip-bad-files`), or `plan` refused a required column a file lacks (the message names the file, dataset, column, node or field)", Na),
    row(Tool::Submit, 2, "usage", "bad command line", Na),
];

/// casa-submit post, indexed by [`PostExit`].
#[rustfmt::skip]
const POST: [Code; 3] = [
    row(Tool::Post, 0, "done", "the node is done (its partial verified and published), or skipped with `--skip-bad-files`", Na),
    row(Tool::Post, 1, "retry", "the attempt failed in a way another attempt may fix", Yes),
    row(Tool::Post, 42, "permanent", "the node failed for good (`RETRY n UNLESS-EXIT 42`)", No),
];

/// casa-submit status, indexed by [`StatusExit`]: a script (or `--watch`) can tell a finished
/// run from one still going, and a clean result from one with failed or skipped nodes.
#[rustfmt::skip]
const STATUS: [Code; 6] = [
    row(Tool::Status, 0, "complete", "every node is done", Na),
    row(Tool::Status, 1, "failure", "the run directory could not be read (the message names the file)", Na),
    row(Tool::Status, 2, "usage", "bad command line", Na),
    row(Tool::Status, 3, "nodes_failed", "a node failed for good (the run cannot finish without `resubmit`), whatever the others are doing", Na),
    row(Tool::Status, 4, "in_progress", "no node failed, but some are pending or running (or their state file is unreadable)", Na),
    row(Tool::Status, 5, "skipped", "every node finished, but some were skipped or input files were left out at plan time (`--skip-bad-files`): the result lacks their events", Na),
];

/// Every code of every tool, tool by tool.
pub const TABLE: [&[Code]; 6] = [&WRAPPER, &INSPECT, &MERGE, &SUBMIT, &POST, &STATUS];

/// Every row of [`TABLE`].
pub fn rows() -> impl Iterator<Item = &'static Code> {
    TABLE.iter().flat_map(|t| t.iter())
}

/// What happened to a leaf job, as casa-wrapper run's exit code says.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ExitClass {
    /// The partial and the metrics are written and verified.
    Success,
    /// A bug or an unexpected condition in casa itself (also the default: metrics whose
    /// class was never set would be one).
    #[default]
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
    /// The job wrote a checkpoint and stopped; run again, it resumes from it (85, as
    /// HTCondor's manual suggests: ERESTART on Linux).
    Checkpointed,
}

impl ExitClass {
    /// Every class, in table order.
    pub const ALL: [ExitClass; 10] = [
        ExitClass::Success,
        ExitClass::Internal,
        ExitClass::Usage,
        ExitClass::RetryableInput,
        ExitClass::PermanentInput,
        ExitClass::PluginFault,
        ExitClass::OutputFault,
        ExitClass::InvalidJob,
        ExitClass::Evicted,
        ExitClass::Checkpointed,
    ];

    /// The class's row of the table.
    pub const fn entry(self) -> &'static Code {
        &WRAPPER[self as usize]
    }

    /// The process exit code.
    pub const fn code(self) -> u8 {
        self.entry().code
    }

    pub fn from_code(code: i32) -> Option<ExitClass> {
        ExitClass::ALL
            .into_iter()
            .find(|c| i32::from(c.code()) == code)
    }

    /// Whether running the job again can help.
    pub const fn retryable(self) -> bool {
        matches!(self.entry().retry, Retry::Yes)
    }

    pub const fn name(self) -> &'static str {
        self.entry().name
    }

    pub const fn meaning(self) -> &'static str {
        self.entry().meaning
    }
}

impl fmt::Display for ExitClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ExitClass {
    type Err = String;
    fn from_str(s: &str) -> Result<ExitClass, String> {
        ExitClass::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| format!("{s:?} is not an exit class"))
    }
}

/// How one attempt of a DAG node ended, as a state file records it: the class of a
/// casa-wrapper code, or any other code as `"exit N"` (HTCondor's failures, signals,
/// casa-merge's codes on merge nodes). Serialised as that one string, as it always was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttemptExit {
    Class(ExitClass),
    Code(i32),
}

impl AttemptExit {
    /// The record for a job's exit code.
    pub fn from_code(code: i32) -> AttemptExit {
        ExitClass::from_code(code).map_or(AttemptExit::Code(code), AttemptExit::Class)
    }

    /// The casa-wrapper class, if the code was one.
    pub fn class(self) -> Option<ExitClass> {
        match self {
            AttemptExit::Class(c) => Some(c),
            AttemptExit::Code(_) => None,
        }
    }
}

impl From<ExitClass> for AttemptExit {
    fn from(c: ExitClass) -> AttemptExit {
        AttemptExit::Class(c)
    }
}

impl fmt::Display for AttemptExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttemptExit::Class(c) => f.write_str(c.name()),
            AttemptExit::Code(n) => write!(f, "exit {n}"),
        }
    }
}

impl std::str::FromStr for AttemptExit {
    type Err = String;
    fn from_str(s: &str) -> Result<AttemptExit, String> {
        if let Ok(c) = s.parse::<ExitClass>() {
            return Ok(c.into());
        }
        s.strip_prefix("exit ")
            .and_then(|n| n.parse().ok())
            .map(AttemptExit::Code)
            .ok_or_else(|| format!("{s:?} is neither an exit class nor \"exit N\""))
    }
}

impl serde::Serialize for AttemptExit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for AttemptExit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<AttemptExit, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// casa-merge's exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MergeExit {
    Success,
    Internal,
    Usage,
    Unreadable,
    Corrupt,
    Version,
    Conflict,
    Overlap,
    Incompatible,
    Coverage,
    Output,
    Plan,
}

impl MergeExit {
    pub const fn entry(self) -> &'static Code {
        &MERGE[self as usize]
    }
    pub const fn code(self) -> u8 {
        self.entry().code
    }
    pub const fn name(self) -> &'static str {
        self.entry().name
    }
}

/// What the POST script tells DAGMan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PostExit {
    Done,
    Retry,
    Permanent,
}

impl PostExit {
    pub const fn entry(self) -> &'static Code {
        &POST[self as usize]
    }
    pub const fn code(self) -> u8 {
        self.entry().code
    }
}

/// The codes of casa-wrapper inspect and casa-submit's commands other than post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandExit {
    Success,
    Failure,
    Usage,
}

impl CommandExit {
    /// The row of `tool` (Inspect or Submit).
    pub fn entry(self, tool: Tool) -> &'static Code {
        &tool.codes()[self as usize]
    }
    /// The same for both tools (a test checks).
    pub const fn code(self) -> u8 {
        SUBMIT[self as usize].code
    }
}

/// What `casa-submit status` says of a run, as its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusExit {
    Complete,
    Failure,
    Usage,
    NodesFailed,
    InProgress,
    Skipped,
}

impl StatusExit {
    pub const fn entry(self) -> &'static Code {
        &STATUS[self as usize]
    }
    pub const fn code(self) -> u8 {
        self.entry().code
    }
    pub const fn name(self) -> &'static str {
        self.entry().name
    }
}

/// The README's summary line of a tool: `| casa-merge | 0 `success`, 1 `internal`, ... |`.
pub fn readme_row(tool: Tool) -> String {
    let codes: Vec<String> = tool
        .codes()
        .iter()
        .map(|c| format!("{} `{}`", c.code, c.name))
        .collect();
    format!("| {} | {} |", tool.command(), codes.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_per_tool_and_the_classes_index_their_rows() {
        for tool in Tool::ALL {
            let mut seen = std::collections::HashSet::new();
            for c in tool.codes() {
                assert_eq!(c.tool, tool);
                assert!(seen.insert(c.code), "{c:?}");
            }
        }
        for c in ExitClass::ALL {
            assert_eq!(ExitClass::from_code(c.code().into()), Some(c));
            // The serde name is the table's name.
            assert_eq!(serde_json::to_value(c).unwrap(), c.name());
        }
        assert_eq!(WRAPPER.len(), ExitClass::ALL.len());
        let merge = [
            MergeExit::Success,
            MergeExit::Internal,
            MergeExit::Usage,
            MergeExit::Unreadable,
            MergeExit::Corrupt,
            MergeExit::Version,
            MergeExit::Conflict,
            MergeExit::Overlap,
            MergeExit::Incompatible,
            MergeExit::Coverage,
            MergeExit::Output,
            MergeExit::Plan,
        ];
        assert_eq!(merge.len(), MERGE.len());
        for (m, name) in merge.iter().zip([
            "success",
            "internal",
            "usage",
            "unreadable",
            "corrupt",
            "version",
            "conflict",
            "overlap",
            "incompatible",
            "coverage",
            "output",
            "plan",
        ]) {
            assert_eq!(m.name(), name);
        }
        assert_eq!(
            [PostExit::Done, PostExit::Retry, PostExit::Permanent].map(PostExit::code),
            [0, 1, 42]
        );
        let status = [
            StatusExit::Complete,
            StatusExit::Failure,
            StatusExit::Usage,
            StatusExit::NodesFailed,
            StatusExit::InProgress,
            StatusExit::Skipped,
        ];
        assert_eq!(status.len(), STATUS.len());
        assert_eq!(status.map(StatusExit::code), [0, 1, 2, 3, 4, 5]);
        // The codes casa-submit's other commands share keep their meaning.
        assert_eq!(StatusExit::Failure.code(), CommandExit::Failure.code());
        assert_eq!(StatusExit::Usage.code(), CommandExit::Usage.code());
        for c in [
            CommandExit::Success,
            CommandExit::Failure,
            CommandExit::Usage,
        ] {
            assert_eq!(c.entry(Tool::Inspect).code, c.code());
            assert_eq!(c.entry(Tool::Submit).code, c.code());
        }
        // Every tool agrees on 0, and a leaf's codes never mean something else on a merge.
        for t in Tool::ALL {
            assert_eq!(t.codes()[0].code, 0);
        }
        for m in MERGE.iter().filter(|m| m.code >= 10) {
            assert!(ExitClass::from_code(m.code.into()).is_none(), "{m:?}");
        }
    }

    #[test]
    fn attempt_exits_keep_their_strings() {
        for (text, want) in [
            ("\"success\"", AttemptExit::from(ExitClass::Success)),
            ("\"retryable_input\"", ExitClass::RetryableInput.into()),
            ("\"exit 23\"", AttemptExit::Code(23)),
            ("\"exit -9\"", AttemptExit::Code(-9)),
        ] {
            let a: AttemptExit = serde_json::from_str(text).unwrap();
            assert_eq!(a, want);
            assert_eq!(serde_json::to_string(&a).unwrap(), text);
        }
        assert_eq!(AttemptExit::from_code(137), AttemptExit::Code(137));
        assert_eq!(AttemptExit::from_code(15), ExitClass::Evicted.into());
        let e = serde_json::from_str::<AttemptExit>("\"exited\"").unwrap_err();
        assert!(e.to_string().contains("exited"), "{e}");
    }

    fn doc(path: &str) -> String {
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// The table rows of a markdown text that start with one of the tools' commands.
    fn code_rows(text: &str) -> Vec<&str> {
        text.lines()
            .map(str::trim)
            .filter(|l| {
                Tool::ALL
                    .iter()
                    .any(|t| l.starts_with(&format!("| {} |", t.command())))
            })
            .collect()
    }

    #[test]
    fn docs_exit_codes_lists_every_code_of_every_tool_and_nothing_else() {
        let text = doc("../docs/exit-codes.md");
        let rows = code_rows(&text);
        let want: Vec<String> = super::rows().map(Code::markdown_row).collect();
        for w in &want {
            assert!(rows.contains(&w.as_str()), "docs/exit-codes.md lacks\n{w}");
        }
        for r in &rows {
            assert!(
                want.iter().any(|w| w == r),
                "docs/exit-codes.md has a row the table (formats/src/exit.rs) does not:\n{r}"
            );
        }
    }

    #[test]
    fn readme_summarises_every_tool() {
        let text = doc("../README.md");
        let rows = code_rows(&text);
        for t in Tool::ALL {
            let w = readme_row(t);
            assert!(rows.contains(&w.as_str()), "README.md lacks\n{w}");
        }
        assert_eq!(rows.len(), Tool::ALL.len(), "README.md: {rows:#?}");
    }
}
