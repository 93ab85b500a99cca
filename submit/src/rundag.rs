//! Reading a run directory's `casa.dag` back with its nodes' names: the local runner and
//! `status` both need the DAG as plan wrote it, and both refuse a node casa did not name.

use casa_run::{Dag, NodeName, RunDir};

/// Why a run directory's DAG could not be read, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum DagFileError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} {source}")]
    Dag {
        path: String,
        #[source]
        source: casa_run::DagError,
    },
    #[error("{path}: {source}")]
    Node {
        path: String,
        #[source]
        source: casa_run::NameError,
    },
}

/// The DAG and its nodes' names (every node must be one casa names).
pub fn load(run: &RunDir) -> Result<(Dag, Vec<NodeName>), DagFileError> {
    let path = run.dag();
    let shown = || path.display().to_string();
    let text = std::fs::read_to_string(&path).map_err(|source| DagFileError::Read {
        path: shown(),
        source,
    })?;
    let dag = Dag::parse(&text).map_err(|source| DagFileError::Dag {
        path: shown(),
        source,
    })?;
    let names = dag
        .nodes()
        .iter()
        .map(|n| NodeName::parse(&n.name))
        .collect::<Result<_, _>>()
        .map_err(|source| DagFileError::Node {
            path: shown(),
            source,
        })?;
    Ok((dag, names))
}
