//! The subset of HTCondor submit descriptions the local runner honours: `key = value` lines
//! (keys case-insensitive), `$(name)` macros bound from the node's VARS and `$(JOB)`, and the
//! `environment` value in HTCondor's new syntax.

use std::collections::HashMap;

use crate::dag::Node;

/// A submit description as `key = value` pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubmitDescription {
    values: HashMap<String, String>,
}

impl SubmitDescription {
    pub fn parse(text: &str) -> SubmitDescription {
        let mut values = HashMap::new();
        for raw in text.lines() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.eq_ignore_ascii_case("queue") {
                continue;
            }
            if let Some((k, v)) = line.split_once('=') {
                values.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        SubmitDescription { values }
    }

    /// The raw value of `key`.
    pub fn raw(&self, key: &str) -> Option<&str> {
        self.values
            .get(&key.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The value of `key` as DAGMan's node `node` sees it (macros expanded), or "".
    pub fn get(&self, key: &str, node: &Node) -> String {
        self.raw(key)
            .map(|v| expand(v, &node.vars, &node.name))
            .unwrap_or_default()
    }
}

/// Substitute `$(name)` macros from the node's VARS (and `JOB`); unknown ones stay.
pub fn expand(value: &str, vars: &[(String, String)], node: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(i) = rest.find("$(") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        match after.find(')') {
            Some(j) => {
                let name = &after[..j];
                let v = if name.eq_ignore_ascii_case("JOB") {
                    Some(node)
                } else {
                    vars.iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(name))
                        .map(|(_, v)| v.as_str())
                };
                match v {
                    Some(v) => out.push_str(v),
                    None => out.push_str(&rest[i..i + 3 + j]),
                }
                rest = &after[j + 1..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The job's `environment` in HTCondor's new syntax (`"A=1 B='two words'"`), as pairs.
pub fn parse_environment(value: &str) -> Vec<(String, String)> {
    let v = value.trim();
    let v = v
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(v);
    let mut out = Vec::new();
    let mut rest = v.trim_start();
    while let Some((name, after)) = rest.split_once('=') {
        let (val, next) = match after.strip_prefix('\'') {
            Some(q) => match q.split_once('\'') {
                Some((val, next)) => (val, next),
                None => (q, ""),
            },
            None => after.split_once(char::is_whitespace).unwrap_or((after, "")),
        };
        out.push((name.trim().to_string(), val.to_string()));
        rest = next.trim_start();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_environment_new_syntax() {
        let env = parse_environment(r#""CASA_XCACHE=root://127.0.0.1:1094 B='two words' C=""#);
        let want = [
            ("CASA_XCACHE", "root://127.0.0.1:1094"),
            ("B", "two words"),
            ("C", ""),
        ];
        assert_eq!(env.len(), want.len());
        for ((k, v), (wk, wv)) in env.iter().zip(want) {
            assert_eq!((k.as_str(), v.as_str()), (wk, wv));
        }
        assert!(parse_environment("").is_empty());
    }

    #[test]
    fn expands_node_macros() {
        let node = Node::new("a", "leaf.sub").var("node", "a");
        let sub = SubmitDescription::parse(
            "# c\nArguments = --job $(node).json $(JOB) $(other)\nqueue\n",
        );
        assert_eq!(sub.get("arguments", &node), "--job a.json a $(other)");
        assert_eq!(sub.get("output", &node), "");
    }
}
