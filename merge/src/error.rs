//! The one error type of casa-merge, and the exit code each error gives. docs/merge.md lists
//! the codes; a test keeps the two in step.

use std::path::PathBuf;

use casa_formats::PartialError;

/// What went wrong, naming the files (and datasets, histograms, axes) concerned.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A bad command line or option combination that clap cannot see.
    #[error("{0}")]
    Usage(String),

    /// An input (partial, list file, directory, plan, metrics) could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// One or more partials are corrupt, truncated, not partials, or of another format
    /// version. Every bad file is listed.
    #[error("{}", bad_partials_message(.0))]
    BadPartials(Vec<PartialError>),

    /// The same chunk is in two partials that are not identical copies of each other.
    #[error("conflicting partials {a} and {b}: {what}")]
    Conflict {
        a: PathBuf,
        b: PathBuf,
        what: String,
    },

    /// Two chunks of the same file and tree have overlapping, different entry ranges (or
    /// one partial lists a chunk twice). `what` names the dataset, file, tree and ranges.
    #[error("overlapping chunks in {a} and {b}: {what}")]
    Overlap {
        a: PathBuf,
        b: PathBuf,
        what: String,
    },

    /// Partials that cannot be added: histograms with other axes or storages, an item that
    /// is a histogram in one and a counter in another, other plugins or runs.
    #[error("cannot merge {a} and {b}: {what}")]
    Incompatible {
        a: PathBuf,
        b: PathBuf,
        what: String,
    },

    /// The merged chunks do not cover the plan (strict mode), or cover events it does not
    /// plan. `summary` lists the gaps.
    #[error("coverage check failed against {plan}: {summary}")]
    Coverage { plan: PathBuf, summary: String },

    /// A job spec of the plan is unreadable or invalid.
    #[error("invalid plan: {0}")]
    Plan(String),

    /// An output could not be written.
    #[error("{path}: cannot write: {what}")]
    Write { path: PathBuf, what: String },

    /// A partial's payload is not an accumulator casa can read.
    #[error("{path}: corrupt partial: the payload is not a readable accumulator: {what}")]
    Payload { path: PathBuf, what: String },

    /// A bug or an unexpected condition in casa-merge itself.
    #[error("internal error: {0}")]
    Internal(String),
}

fn bad_partials_message(errors: &[PartialError]) -> String {
    let mut s = match errors.len() {
        1 => String::new(),
        n => format!("{n} bad partials: "),
    };
    for (i, e) in errors.iter().enumerate() {
        if i > 0 {
            s.push_str("; ");
        }
        s.push_str(&e.to_string());
    }
    s
}

/// casa-merge's exit codes: 0, 1 and 2 as every casa tool, then 20-29 (apart from
/// casa-wrapper's 10-15, since a DAG's POST script sees both).
pub mod exit {
    pub const SUCCESS: u8 = 0;
    pub const INTERNAL: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const UNREADABLE: u8 = 20;
    pub const CORRUPT: u8 = 21;
    pub const VERSION: u8 = 22;
    pub const CONFLICT: u8 = 23;
    pub const OVERLAP: u8 = 24;
    pub const INCOMPATIBLE: u8 = 25;
    pub const COVERAGE: u8 = 26;
    pub const OUTPUT: u8 = 27;
    pub const PLAN: u8 = 28;

    /// (code, name, meaning), in the order docs/merge.md lists them.
    pub const TABLE: [(u8, &str, &str); 12] = [
        (SUCCESS, "success", "merged; every requested output written"),
        (INTERNAL, "internal", "unexpected error in casa-merge itself"),
        (USAGE, "usage", "bad command line, or nothing to merge"),
        (UNREADABLE, "unreadable", "an input file or directory cannot be read (missing, permissions, I/O error)"),
        (CORRUPT, "corrupt", "a partial is corrupt, truncated or not a partial (checksum, lengths, magic, payload)"),
        (VERSION, "version", "a partial has a format version this casa-merge cannot read (another major, or a newer minor)"),
        (CONFLICT, "conflict", "two partials cover the same chunk but are not identical copies"),
        (OVERLAP, "overlap", "two chunks of the same file and tree have overlapping, different entry ranges"),
        (INCOMPATIBLE, "incompatible", "partials cannot be added: histogram axes or storage differ, histogram vs counter, other plugin or run"),
        (COVERAGE, "coverage", "the merged chunks miss planned events (strict mode) or cover events the plan does not have"),
        (OUTPUT, "output", "an output could not be written"),
        (PLAN, "plan", "a job spec of the plan is unreadable or invalid"),
    ];
}

impl MergeError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            MergeError::Usage(_) => exit::USAGE,
            MergeError::Read { .. } => exit::UNREADABLE,
            MergeError::BadPartials(errors) => errors.first().map_or(exit::CORRUPT, partial_code),
            MergeError::Conflict { .. } => exit::CONFLICT,
            MergeError::Overlap { .. } => exit::OVERLAP,
            MergeError::Incompatible { .. } => exit::INCOMPATIBLE,
            MergeError::Coverage { .. } => exit::COVERAGE,
            MergeError::Plan(_) => exit::PLAN,
            MergeError::Write { .. } => exit::OUTPUT,
            MergeError::Payload { .. } => exit::CORRUPT,
            MergeError::Internal(_) => exit::INTERNAL,
        }
    }

    /// The short name of the exit code (`corrupt`, `overlap`, ...), for `--json`.
    pub fn kind(&self) -> &'static str {
        let code = self.exit_code();
        exit::TABLE
            .iter()
            .find(|(c, _, _)| *c == code)
            .map_or("internal", |(_, n, _)| n)
    }

    /// The input files this error is about (for a DAG to retry the nodes that wrote them).
    pub fn files(&self) -> Vec<PathBuf> {
        match self {
            MergeError::Read { path, .. }
            | MergeError::Payload { path, .. }
            | MergeError::Write { path, .. } => vec![path.clone()],
            MergeError::BadPartials(errors) => errors.iter().map(partial_path).collect(),
            MergeError::Conflict { a, b, .. }
            | MergeError::Overlap { a, b, .. }
            | MergeError::Incompatible { a, b, .. } => vec![a.clone(), b.clone()],
            MergeError::Coverage { plan, .. } => vec![plan.clone()],
            MergeError::Usage(_) | MergeError::Plan(_) | MergeError::Internal(_) => Vec::new(),
        }
    }
}

/// The exit code of one bad partial: I/O failures are "unreadable", an unreadable version
/// is "version", everything else "corrupt".
pub fn partial_code(e: &PartialError) -> u8 {
    match e {
        PartialError::Read { .. } | PartialError::Write { .. } => exit::UNREADABLE,
        PartialError::Version { .. } => exit::VERSION,
        PartialError::NotPartial { .. }
        | PartialError::Truncated { .. }
        | PartialError::Checksum { .. }
        | PartialError::Corrupt { .. } => exit::CORRUPT,
    }
}

fn partial_path(e: &PartialError) -> PathBuf {
    PathBuf::from(match e {
        PartialError::Read { path, .. }
        | PartialError::Write { path, .. }
        | PartialError::NotPartial { path }
        | PartialError::Version { path, .. }
        | PartialError::Truncated { path, .. }
        | PartialError::Checksum { path, .. }
        | PartialError::Corrupt { path, .. } => path,
    })
}
