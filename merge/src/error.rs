//! The one error type of casa-merge, and the exit code each error gives (casa-formats' exit
//! table, which docs/exit-codes.md lists; a test there keeps the two in step).

use std::path::PathBuf;

use casa_formats::exit::MergeExit;
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

    /// A UHI histogram file (`.json`, `.json.gz`) that is not one casa can read: `what`
    /// says where in the document.
    #[error("{path}: not a readable UHI histogram file: {what}")]
    Uhi { path: PathBuf, what: String },

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

/// casa-merge's exit codes, from casa-formats' table (`casa_formats::exit`, docs/exit-codes.md):
/// 0, 1 and 2 as every casa tool, then 20-29 (apart from casa-wrapper's 10-15, since a DAG's
/// POST script sees both).
pub mod exit {
    use casa_formats::exit::MergeExit;

    pub use casa_formats::exit::MergeExit as Class;

    pub const SUCCESS: u8 = MergeExit::Success.code();
    pub const INTERNAL: u8 = MergeExit::Internal.code();
    pub const USAGE: u8 = MergeExit::Usage.code();
    pub const UNREADABLE: u8 = MergeExit::Unreadable.code();
    pub const CORRUPT: u8 = MergeExit::Corrupt.code();
    pub const VERSION: u8 = MergeExit::Version.code();
    pub const CONFLICT: u8 = MergeExit::Conflict.code();
    pub const OVERLAP: u8 = MergeExit::Overlap.code();
    pub const INCOMPATIBLE: u8 = MergeExit::Incompatible.code();
    pub const COVERAGE: u8 = MergeExit::Coverage.code();
    pub const OUTPUT: u8 = MergeExit::Output.code();
    pub const PLAN: u8 = MergeExit::Plan.code();

    /// casa-merge's rows of the table, in code order.
    pub fn table() -> &'static [casa_formats::exit::Code] {
        casa_formats::exit::Tool::Merge.codes()
    }
}

impl MergeError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        self.class().code()
    }

    /// The class of the exit code.
    pub fn class(&self) -> MergeExit {
        match self {
            MergeError::Usage(_) => MergeExit::Usage,
            MergeError::Read { .. } => MergeExit::Unreadable,
            MergeError::BadPartials(errors) => {
                errors.first().map_or(MergeExit::Corrupt, partial_class)
            }
            MergeError::Conflict { .. } => MergeExit::Conflict,
            MergeError::Overlap { .. } => MergeExit::Overlap,
            MergeError::Incompatible { .. } => MergeExit::Incompatible,
            MergeError::Coverage { .. } => MergeExit::Coverage,
            MergeError::Plan(_) => MergeExit::Plan,
            MergeError::Write { .. } => MergeExit::Output,
            MergeError::Payload { .. } | MergeError::Uhi { .. } => MergeExit::Corrupt,
            MergeError::Internal(_) => MergeExit::Internal,
        }
    }

    /// The short name of the exit code (`corrupt`, `overlap`, ...), for `--json`.
    pub fn kind(&self) -> &'static str {
        self.class().name()
    }

    /// The input files this error is about (for a DAG to retry the nodes that wrote them).
    pub fn files(&self) -> Vec<PathBuf> {
        match self {
            MergeError::Read { path, .. }
            | MergeError::Payload { path, .. }
            | MergeError::Uhi { path, .. }
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

/// The exit class of one bad partial: I/O failures are "unreadable", an unreadable version
/// is "version", everything else "corrupt".
pub fn partial_class(e: &PartialError) -> MergeExit {
    match e {
        PartialError::Read { .. } | PartialError::Write { .. } => MergeExit::Unreadable,
        PartialError::Version { .. } => MergeExit::Version,
        PartialError::NotPartial { .. }
        | PartialError::Truncated { .. }
        | PartialError::Checksum { .. }
        | PartialError::Corrupt { .. } => MergeExit::Corrupt,
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
