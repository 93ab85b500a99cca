//! `casa-submit lint`: [`Dag::parse_all`] (the grammar the runner executes) plus what
//! HTCondor's own parser accepts silently: cycles and missing submit files (docs/submit.md,
//! "lint").

use std::path::Path;

use crate::dag::{Dag, DagError};

/// Every problem of the DAG in `text`, whose submit files are relative to `dir`.
pub fn lint_text(text: &str, dir: &Path) -> Vec<DagError> {
    let (dag, mut problems) = Dag::parse_all(text);
    let mut job_lines = text.lines().enumerate().filter(|(_, l)| {
        l.split_whitespace()
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case("JOB"))
    });
    for node in dag.nodes() {
        // The JOB line of this node (nodes are in the order of their JOB lines).
        let line = job_lines
            .find(|(_, l)| l.split_whitespace().nth(1) == Some(node.name.as_str()))
            .map_or(0, |(i, _)| i + 1);
        if !dir.join(&node.submit).is_file() {
            problems.push(DagError {
                line,
                what: format!("submit file {} does not exist", node.submit),
            });
        }
    }
    problems.sort_by_key(|p| p.line);
    if let Some(node) = dag.find_cycle() {
        problems.push(DagError {
            line: 0,
            what: format!("the DAG has a cycle through {node}"),
        });
    }
    problems
}

/// Every problem of the DAG file at `path`.
pub fn lint(path: &Path) -> std::io::Result<Vec<DagError>> {
    let text = std::fs::read_to_string(path)?;
    Ok(lint_text(&text, path.parent().unwrap_or(Path::new("."))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_htcondor_does_not() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a.sub"), "queue\n").unwrap();
        let text = "JOB a a.sub\nJOB b a.sub\nJOB a a.sub\nJOB c missing.sub\nPARENT a CHILD b\nPARENT b CHILD a\n\
                    RETRY a three\nVARS ghost x=\"1\"\nVARS b chunk=0\nSCRIPT MIDDLE a x\nPARENT a CHILD nosuch\nFROB x\n";
        let p = lint_text(text, d.path());
        let all = p
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        for needle in [
            "line 3: node a defined twice",
            "line 4: submit file missing.sub does not exist",
            "cycle",
            "line 7: RETRY must",
            "line 8: VARS of undefined node ghost",
            "line 9: VARS value of chunk must be quoted",
            "line 10: SCRIPT must",
            "line 11: PARENT/CHILD names undefined node nosuch",
            "line 12: unexpected keyword FROB",
        ] {
            assert!(all.contains(needle), "lint misses {needle}:\n{all}");
        }
        let good = "JOB a a.sub\nJOB b a.sub\nVARS a node=\"a\" args=\"-o x \\\"y\\\"\"\nRETRY a 3 UNLESS-EXIT 42\nSCRIPT POST a /bin/true $JOB $RETURN\nPARENT a CHILD b\nCATEGORY b merge\nMAXJOBS merge 4\nNODE_STATUS_FILE s 30\n";
        assert_eq!(lint_text(good, d.path()), Vec::new());
    }
}
