//! A lint for the DAG files casa writes, for what HTCondor's own parser does not check
//! (it accepts cycles, undefined or duplicate nodes, missing submit files and malformed
//! RETRY/VARS/SCRIPT lines): see ../shared/notes/HTCONDOR.md.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Problems found, each naming the line.
pub fn lint(path: &Path) -> Result<Vec<String>, std::io::Error> {
    let text = std::fs::read_to_string(path)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    Ok(lint_text(&text, dir))
}

pub fn lint_text(text: &str, dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let mut nodes: BTreeMap<String, usize> = BTreeMap::new();
    let mut edges: Vec<(String, String, usize)> = Vec::new();
    let mut refs: Vec<(String, usize, &str)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let kw = words[0].to_ascii_uppercase().replace('_', "-");
        match kw.as_str() {
            "JOB" => {
                if words.len() < 3 {
                    problems.push(format!("line {n}: JOB needs a name and a submit file"));
                    continue;
                }
                if nodes.insert(words[1].to_string(), n).is_some() {
                    problems.push(format!("line {n}: node {} defined twice", words[1]));
                }
                if !dir.join(words[2]).is_file() {
                    problems.push(format!("line {n}: submit file {} does not exist", words[2]));
                }
            }
            "VARS" => {
                if words.len() < 3 {
                    problems.push(format!(
                        "line {n}: VARS needs a node and name=\"value\" pairs"
                    ));
                    continue;
                }
                refs.push((words[1].to_string(), n, "VARS"));
                let rest = line.splitn(3, char::is_whitespace).nth(2).unwrap_or("");
                if let Err(e) = check_vars(rest) {
                    problems.push(format!("line {n}: {e}"));
                }
            }
            "RETRY" => {
                let ok = words.len() == 3 && words[2].parse::<u32>().is_ok()
                    || words.len() == 5
                        && words[2].parse::<u32>().is_ok()
                        && words[3].eq_ignore_ascii_case("UNLESS-EXIT")
                        && words[4].parse::<i32>().is_ok();
                if !ok {
                    problems.push(format!(
                        "line {n}: RETRY must be `RETRY node N [UNLESS-EXIT V]`"
                    ));
                }
                if words.len() > 1 {
                    refs.push((words[1].to_string(), n, "RETRY"));
                }
            }
            "SCRIPT" => {
                let ok = words.len() >= 4
                    && (words[1].eq_ignore_ascii_case("PRE")
                        || words[1].eq_ignore_ascii_case("POST"));
                if !ok {
                    problems.push(format!(
                        "line {n}: SCRIPT must be `SCRIPT PRE|POST node command ...`"
                    ));
                } else {
                    refs.push((words[2].to_string(), n, "SCRIPT"));
                }
            }
            "PARENT" => {
                let Some(c) = words.iter().position(|w| w.eq_ignore_ascii_case("CHILD")) else {
                    problems.push(format!("line {n}: PARENT without CHILD"));
                    continue;
                };
                for p in &words[1..c] {
                    for ch in &words[c + 1..] {
                        edges.push((p.to_string(), ch.to_string(), n));
                    }
                }
            }
            "CATEGORY" => {
                if words.len() != 3 {
                    problems.push(format!("line {n}: CATEGORY must be `CATEGORY node name`"));
                } else {
                    refs.push((words[1].to_string(), n, "CATEGORY"));
                }
            }
            "MAXJOBS" => {
                if words.len() != 3 || words[2].parse::<u32>().is_err() {
                    problems.push(format!("line {n}: MAXJOBS must be `MAXJOBS category N`"));
                }
            }
            "NODE-STATUS-FILE" | "JOBSTATE-LOG" | "DOT" | "CONFIG" | "PRIORITY"
            | "ABORT-DAG-ON" => {}
            other => problems.push(format!("line {n}: unexpected keyword {other}")),
        }
    }
    for (node, n, what) in &refs {
        if !nodes.contains_key(node) {
            problems.push(format!("line {n}: {what} of undefined node {node}"));
        }
    }
    for (p, c, n) in &edges {
        for x in [p, c] {
            if !nodes.contains_key(x) {
                problems.push(format!("line {n}: PARENT/CHILD names undefined node {x}"));
            }
        }
    }
    if let Some(cycle) = find_cycle(&nodes.keys().cloned().collect(), &edges) {
        problems.push(format!("the DAG has a cycle through {cycle}"));
    }
    problems
}

fn check_vars(rest: &str) -> Result<(), String> {
    let mut s = rest.trim();
    if s.is_empty() {
        return Err("VARS without name=\"value\" pairs".into());
    }
    while !s.is_empty() {
        let eq = s.find('=').ok_or("VARS pair without '='")?;
        let name = &s[..eq];
        if name.is_empty()
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || name.eq_ignore_ascii_case("queue")
        {
            return Err(format!("bad VARS name {name:?}"));
        }
        let rest = &s[eq + 1..];
        let rest = rest
            .strip_prefix('"')
            .ok_or_else(|| format!("VARS value of {name} must be quoted"))?;
        let mut end = None;
        let mut escaped = false;
        for (i, ch) in rest.char_indices() {
            match ch {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    end = Some(i);
                    break;
                }
                _ => escaped = false,
            }
        }
        let end = end.ok_or_else(|| format!("VARS value of {name} is not closed"))?;
        s = rest[end + 1..].trim_start();
    }
    Ok(())
}

fn find_cycle(nodes: &BTreeSet<String>, edges: &[(String, String, usize)]) -> Option<String> {
    let mut children: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (p, c, _) in edges {
        children.entry(p).or_default().push(c);
    }
    // 0 unvisited, 1 on the stack, 2 done; iterative DFS (DAGs of a million nodes).
    let mut state: BTreeMap<&str, u8> = BTreeMap::new();
    for start in nodes {
        if state.get(start.as_str()).copied().unwrap_or(0) != 0 {
            continue;
        }
        let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
        state.insert(start, 1);
        while let Some((node, i)) = stack.pop() {
            let kids = children.get(node).map(Vec::as_slice).unwrap_or(&[]);
            if i < kids.len() {
                stack.push((node, i + 1));
                let k = kids[i];
                match state.get(k).copied().unwrap_or(0) {
                    0 => {
                        state.insert(k, 1);
                        stack.push((k, 0));
                    }
                    1 => return Some(k.to_string()),
                    _ => {}
                }
            } else {
                state.insert(node, 2);
            }
        }
    }
    None
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
        let all = p.join("\n");
        for needle in [
            "defined twice",
            "missing.sub",
            "cycle",
            "RETRY must",
            "undefined node ghost",
            "must be quoted",
            "SCRIPT must",
            "undefined node nosuch",
            "unexpected keyword FROB",
        ] {
            assert!(all.contains(needle), "lint misses {needle}:\n{all}");
        }
        let good = "JOB a a.sub\nJOB b a.sub\nVARS a node=\"a\" args=\"-o x \\\"y\\\"\"\nRETRY a 3 UNLESS-EXIT 42\nSCRIPT POST a /bin/true $JOB $RETURN\nPARENT a CHILD b\nCATEGORY b merge\nMAXJOBS merge 4\nNODE_STATUS_FILE s 30\n";
        assert_eq!(lint_text(good, d.path()), Vec::<String>::new());
    }
}
