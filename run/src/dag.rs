//! The subset of DAGMan's language casa writes, as one model: `plan` builds a [`Dag`], its
//! `Display` writes `casa.dag`, [`Dag::parse`] reads it back, [`crate::lint`] is parse plus
//! checks, and the local runner executes the parsed model. Anything outside the subset is an
//! error naming the line, so the lint and the runner accept exactly the same files.
//!
//! Keywords are case-insensitive with `-` and `_` alike, as DAGMan's parser has them.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

/// A problem in a DAG, naming its line (0 for problems of the whole file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DagError {
    pub line: usize,
    pub what: String,
}

impl fmt::Display for DagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            0 => f.write_str(&self.what),
            n => write!(f, "line {n}: {}", self.what),
        }
    }
}

impl std::error::Error for DagError {}

fn err(line: usize, what: impl Into<String>) -> DagError {
    DagError {
        line,
        what: what.into(),
    }
}

/// `RETRY node count [UNLESS-EXIT value]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub count: u32,
    pub unless_exit: Option<i32>,
}

/// One node: `JOB` and the lines that name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub submit: String,
    /// `VARS`, unescaped.
    pub vars: Vec<(String, String)>,
    pub retry: Option<Retry>,
    /// `SCRIPT PRE` command line (macros such as `$JOB` unexpanded).
    pub pre: Option<String>,
    pub post: Option<String>,
    pub category: Option<String>,
    /// Indices into [`Dag::nodes`], in the order the `PARENT` lines give them.
    pub parents: Vec<usize>,
    pub children: Vec<usize>,
}

impl Node {
    pub fn new(name: impl Into<String>, submit: impl Into<String>) -> Node {
        Node {
            name: name.into(),
            submit: submit.into(),
            vars: Vec::new(),
            retry: None,
            pre: None,
            post: None,
            category: None,
            parents: Vec::new(),
            children: Vec::new(),
        }
    }
    pub fn var(mut self, name: impl Into<String>, value: impl Into<String>) -> Node {
        self.vars.push((name.into(), value.into()));
        self
    }
    pub fn retry(mut self, count: u32, unless_exit: Option<i32>) -> Node {
        self.retry = Some(Retry { count, unless_exit });
        self
    }
    pub fn pre(mut self, command: impl Into<String>) -> Node {
        self.pre = Some(command.into());
        self
    }
    pub fn post(mut self, command: impl Into<String>) -> Node {
        self.post = Some(command.into());
        self
    }
    pub fn category(mut self, category: impl Into<String>) -> Node {
        self.category = Some(category.into());
        self
    }
    /// The value of VARS `name` (case-insensitive, as HTCondor macros).
    pub fn get_var(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A DAG-wide line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    /// `MAXJOBS category limit`.
    MaxJobs { category: String, limit: u32 },
    /// `NODE_STATUS_FILE file [period] [ALWAYS-UPDATE]`.
    NodeStatusFile {
        file: String,
        period: Option<u32>,
        always_update: bool,
    },
    /// `JOBSTATE_LOG`, `DOT`, `CONFIG`, `PRIORITY`: for HTCondor alone, kept as written.
    Kept(String),
}

/// A DAG in casa's subset of DAGMan's language.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dag {
    /// `#` lines, written first.
    pub comments: Vec<String>,
    nodes: Vec<Node>,
    index: HashMap<String, usize, BuildHasherDefault<Fnv>>,
    /// DAG-wide lines, written after the nodes in this order.
    pub settings: Vec<Setting>,
}

fn var_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.eq_ignore_ascii_case("queue")
}

fn single_word(s: &str) -> bool {
    !s.is_empty() && !s.contains(char::is_whitespace)
}

fn single_line(s: &str) -> bool {
    !s.contains(['\n', '\r', '\0'])
}

impl Dag {
    pub fn new() -> Dag {
        Dag::default()
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i]
    }

    /// The index of node `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// A `# ...` line.
    pub fn comment(&mut self, text: &str) {
        self.comments.push(format!("# {text}"));
    }

    /// Add a node; what cannot be written back as the same node is refused.
    pub fn add_node(&mut self, node: Node) -> Result<usize, DagError> {
        let name = &node.name;
        if !single_word(name) || !single_word(&node.submit) {
            return Err(err(
                0,
                format!(
                    "node {name:?} or its submit file {:?} is not one word",
                    node.submit
                ),
            ));
        }
        if self.index.contains_key(name) {
            return Err(err(0, format!("node {name} defined twice")));
        }
        for (k, v) in &node.vars {
            if !var_name_ok(k) {
                return Err(err(0, format!("node {name}: bad VARS name {k:?}")));
            }
            if !single_line(v) {
                return Err(err(
                    0,
                    format!("node {name}: VARS value of {k} has a line break"),
                ));
            }
        }
        for s in [&node.pre, &node.post, &node.category]
            .into_iter()
            .flatten()
        {
            // Written as the rest of its line, which the parser trims.
            if s.trim().is_empty() || s.trim() != s.as_str() || !single_line(s) {
                return Err(err(0, format!("node {name}: {s:?} is not a single line")));
            }
        }
        let i = self.nodes.len();
        self.index.insert(name.clone(), i);
        self.nodes.push(Node {
            parents: Vec::new(),
            children: Vec::new(),
            ..node
        });
        Ok(i)
    }

    /// `PARENT parent CHILD child`, by index.
    pub fn add_edge(&mut self, parent: usize, child: usize) {
        self.nodes[parent].children.push(child);
        self.nodes[child].parents.push(parent);
    }

    pub fn max_jobs(&mut self, category: &str, limit: u32) {
        self.settings.push(Setting::MaxJobs {
            category: category.into(),
            limit,
        });
    }

    pub fn node_status_file(&mut self, file: &str, period: u32) {
        self.settings.push(Setting::NodeStatusFile {
            file: file.into(),
            period: Some(period),
            always_update: false,
        });
    }

    /// The MAXJOBS limit of `category`.
    pub fn limit(&self, category: &str) -> Option<usize> {
        self.settings.iter().rev().find_map(|s| match s {
            Setting::MaxJobs { category: c, limit } if c == category => Some(*limit as usize),
            _ => None,
        })
    }

    /// Parse a DAG; the first problem is the error.
    pub fn parse(text: &str) -> Result<Dag, DagError> {
        let (dag, mut problems) = Dag::parse_all(text);
        match problems.is_empty() {
            true => Ok(dag),
            false => Err(problems.swap_remove(0)),
        }
    }

    /// Parse a DAG as far as it goes: what it understood, and every problem (for the lint).
    pub fn parse_all(text: &str) -> (Dag, Vec<DagError>) {
        let mut dag = Dag::default();
        let mut problems = Vec::new();
        // Statements naming nodes are resolved at the end: DAGMan allows them before the JOB.
        enum Ref {
            Vars(Vec<(String, String)>),
            Retry(Retry),
            Pre(String),
            Post(String),
            Category(String),
        }
        let mut refs: Vec<(usize, &str, &'static str, Ref)> = Vec::new();
        let mut edges: Vec<(usize, &str, &str)> = Vec::new();
        // Sized once: growing the index dominated parsing large DAGs.
        let jobs = text
            .lines()
            .filter(|l| {
                let w = l.trim_start().as_bytes();
                w.len() > 3 && w[..3].eq_ignore_ascii_case(b"JOB") && w[3].is_ascii_whitespace()
            })
            .count();
        dag.index.reserve(jobs);
        dag.nodes.reserve(jobs);
        let mut words: Vec<&str> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let line = raw.trim();
            if line.is_empty() {
                continue;
            }
            if line.starts_with('#') {
                dag.comments.push(line.to_string());
                continue;
            }
            words.clear();
            words.extend(line.split_whitespace());
            // The text after the first `k` words, as written.
            let rest_after = |k: usize| {
                let mut s = line;
                for _ in 0..k {
                    s = s.trim_start();
                    s = &s[s.find(char::is_whitespace).unwrap_or(s.len())..];
                }
                s.trim()
            };
            match keyword(words[0]).as_ref() {
                "JOB" => {
                    if words.len() < 3 {
                        problems.push(err(n, "JOB needs a name and a submit file"));
                    } else if dag.index.contains_key(words[1]) {
                        problems.push(err(n, format!("node {} defined twice", words[1])));
                    } else {
                        dag.index.insert(words[1].into(), dag.nodes.len());
                        dag.nodes.push(Node::new(words[1], words[2]));
                    }
                }
                "VARS" => {
                    if words.len() < 3 {
                        problems.push(err(n, "VARS needs a node and name=\"value\" pairs"));
                        continue;
                    }
                    match parse_vars(rest_after(2)) {
                        Ok(v) => refs.push((n, words[1], "VARS", Ref::Vars(v))),
                        Err(e) => problems.push(err(n, e)),
                    }
                }
                "RETRY" => {
                    let count = words.get(2).and_then(|w| w.parse::<u32>().ok());
                    let retry = match (words.len(), count) {
                        (3, Some(count)) => Some(Retry {
                            count,
                            unless_exit: None,
                        }),
                        (5, Some(count)) if keyword(words[3]) == "UNLESS-EXIT" => {
                            words[4].parse::<i32>().ok().map(|v| Retry {
                                count,
                                unless_exit: Some(v),
                            })
                        }
                        _ => None,
                    };
                    match retry {
                        Some(r) => refs.push((n, words[1], "RETRY", Ref::Retry(r))),
                        None => problems.push(err(
                            n,
                            "RETRY must be `RETRY node N [UNLESS-EXIT V]`",
                        )),
                    }
                }
                "SCRIPT" => {
                    let kind = words.get(1).map(|w| keyword(w));
                    match kind.as_deref() {
                        Some(k @ ("PRE" | "POST")) if words.len() >= 4 => {
                            let cmd = rest_after(3).to_string();
                            let r = if k == "PRE" {
                                Ref::Pre(cmd)
                            } else {
                                Ref::Post(cmd)
                            };
                            refs.push((n, words[2], "SCRIPT", r));
                        }
                        _ => problems.push(err(
                            n,
                            "SCRIPT must be `SCRIPT PRE|POST node command ...`",
                        )),
                    }
                }
                "PARENT" => {
                    let Some(c) = words.iter().position(|w| keyword(w) == "CHILD") else {
                        problems.push(err(n, "PARENT without CHILD"));
                        continue;
                    };
                    if c == 1 || c + 1 == words.len() {
                        problems.push(err(n, "PARENT must be `PARENT p ... CHILD c ...`"));
                        continue;
                    }
                    for p in &words[1..c] {
                        for ch in &words[c + 1..] {
                            edges.push((n, p, ch));
                        }
                    }
                }
                "CATEGORY" => {
                    if words.len() != 3 {
                        problems.push(err(n, "CATEGORY must be `CATEGORY node name`"));
                    } else {
                        refs.push((n, words[1], "CATEGORY", Ref::Category(words[2].into())));
                    }
                }
                "MAXJOBS" => match (words.len(), words.get(2).and_then(|w| w.parse().ok())) {
                    (3, Some(limit)) => dag.settings.push(Setting::MaxJobs {
                        category: words[1].into(),
                        limit,
                    }),
                    _ => problems.push(err(n, "MAXJOBS must be `MAXJOBS category N`")),
                },
                "NODE-STATUS-FILE" => {
                    let period = words.get(2).map(|w| w.parse::<u32>());
                    let always = words.get(3).map(|w| keyword(w));
                    match (words.len(), &period, always.as_deref()) {
                        (2, None, None) | (3, Some(Ok(_)), None) => {}
                        (4, Some(Ok(_)), Some("ALWAYS-UPDATE")) => {}
                        _ => {
                            problems.push(err(
                                n,
                                "NODE_STATUS_FILE must be `NODE_STATUS_FILE file [seconds [ALWAYS-UPDATE]]`",
                            ));
                            continue;
                        }
                    }
                    dag.settings.push(Setting::NodeStatusFile {
                        file: words[1].into(),
                        period: period.and_then(Result::ok),
                        always_update: words.len() == 4,
                    });
                }
                "JOBSTATE-LOG" | "DOT" | "CONFIG" | "PRIORITY" => {
                    dag.settings.push(Setting::Kept(line.to_string()))
                }
                other => problems.push(err(
                    n,
                    format!(
                        "unexpected keyword {other}: not something casa writes or the local runner supports"
                    ),
                )),
            }
        }
        for (n, name, what, r) in refs {
            let Some(&i) = dag.index.get(name) else {
                problems.push(err(n, format!("{what} of undefined node {name}")));
                continue;
            };
            let node = &mut dag.nodes[i];
            match r {
                Ref::Vars(v) => node.vars.extend(v),
                Ref::Retry(r) => node.retry = Some(r),
                Ref::Pre(c) => node.pre = Some(c),
                Ref::Post(c) => node.post = Some(c),
                Ref::Category(c) => node.category = Some(c),
            }
        }
        for (n, p, c) in edges {
            let (pi, ci) = (dag.index.get(p).copied(), dag.index.get(c).copied());
            for (x, i) in [(p, pi), (c, ci)] {
                if i.is_none() {
                    problems.push(err(n, format!("PARENT/CHILD names undefined node {x}")));
                }
            }
            if let (Some(pi), Some(ci)) = (pi, ci) {
                dag.add_edge(pi, ci);
            }
        }
        problems.sort_by_key(|p| p.line);
        (dag, problems)
    }

    /// A node on a cycle, if the DAG has one.
    pub fn find_cycle(&self) -> Option<&str> {
        // 0 unvisited, 1 on the stack, 2 done; iterative DFS (DAGs of a million nodes).
        let mut state = vec![0u8; self.nodes.len()];
        for start in 0..self.nodes.len() {
            if state[start] != 0 {
                continue;
            }
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            state[start] = 1;
            while let Some((node, i)) = stack.pop() {
                let kids = &self.nodes[node].children;
                if i < kids.len() {
                    stack.push((node, i + 1));
                    let k = kids[i];
                    match state[k] {
                        0 => {
                            state[k] = 1;
                            stack.push((k, 0));
                        }
                        1 => return Some(&self.nodes[k].name),
                        _ => {}
                    }
                } else {
                    state[node] = 2;
                }
            }
        }
        None
    }
}

/// A keyword as DAGMan compares them: case-insensitive, `_` as `-`. Borrowed when already
/// so (as casa writes them: `status` parses DAGs of a million nodes).
fn keyword(w: &str) -> Cow<'_, str> {
    if w.bytes().any(|b| b.is_ascii_lowercase() || b == b'_') {
        Cow::Owned(w.to_ascii_uppercase().replace('_', "-"))
    } else {
        Cow::Borrowed(w)
    }
}

/// FNV-1a for the node index: node names are short, and SipHash's resistance to chosen
/// keys is not needed for DAGs casa wrote (it was a third of the parse time).
#[derive(Clone, Copy)]
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// `name="value" ...`: in a value, `\"` is a quote and `\\` a backslash; any other backslash
/// is itself.
fn parse_vars(rest: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut s = rest.trim();
    if s.is_empty() {
        return Err("VARS without name=\"value\" pairs".into());
    }
    while !s.is_empty() {
        let eq = s.find('=').ok_or("VARS pair without '='")?;
        let name = s[..eq].trim();
        if !var_name_ok(name) {
            return Err(format!("bad VARS name {name:?}"));
        }
        let r = s[eq + 1..]
            .trim_start()
            .strip_prefix('"')
            .ok_or_else(|| format!("VARS value of {name} must be quoted"))?;
        let mut value = String::new();
        let mut chars = r.char_indices().peekable();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.peek() {
                    Some(&(_, q @ ('"' | '\\'))) => {
                        value.push(q);
                        chars.next();
                    }
                    _ => value.push('\\'),
                },
                '"' => {
                    end = Some(i);
                    break;
                }
                c => value.push(c),
            }
        }
        let end = end.ok_or_else(|| format!("VARS value of {name} is not closed"))?;
        out.push((name.to_string(), value));
        s = r[end + 1..].trim_start();
    }
    Ok(out)
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"")
}

impl fmt::Display for Dag {
    /// The DAG as casa writes it: comments, then each node's lines (JOB, VARS, CATEGORY,
    /// RETRY, SCRIPT PRE, SCRIPT POST, its PARENT line), then the DAG-wide lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.comments {
            writeln!(f, "{c}")?;
        }
        for node in &self.nodes {
            let name = &node.name;
            writeln!(f, "JOB {name} {}", node.submit)?;
            if !node.vars.is_empty() {
                write!(f, "VARS {name}")?;
                for (k, v) in &node.vars {
                    write!(f, " {k}=\"{}\"", escape(v))?;
                }
                writeln!(f)?;
            }
            if let Some(c) = &node.category {
                writeln!(f, "CATEGORY {name} {c}")?;
            }
            match node.retry {
                Some(Retry {
                    count,
                    unless_exit: Some(v),
                }) => writeln!(f, "RETRY {name} {count} UNLESS-EXIT {v}")?,
                Some(Retry { count, .. }) => writeln!(f, "RETRY {name} {count}")?,
                None => {}
            }
            if let Some(c) = &node.pre {
                writeln!(f, "SCRIPT PRE {name} {c}")?;
            }
            if let Some(c) = &node.post {
                writeln!(f, "SCRIPT POST {name} {c}")?;
            }
            if !node.parents.is_empty() {
                write!(f, "PARENT")?;
                for &p in &node.parents {
                    write!(f, " {}", self.nodes[p].name)?;
                }
                writeln!(f, " CHILD {name}")?;
            }
        }
        for s in &self.settings {
            match s {
                Setting::MaxJobs { category, limit } => writeln!(f, "MAXJOBS {category} {limit}")?,
                Setting::NodeStatusFile {
                    file,
                    period,
                    always_update,
                } => {
                    write!(f, "NODE_STATUS_FILE {file}")?;
                    if let Some(p) = period {
                        write!(f, " {p}")?;
                    }
                    if *always_update {
                        write!(f, " ALWAYS-UPDATE")?;
                    }
                    writeln!(f)?;
                }
                Setting::Kept(line) => writeln!(f, "{line}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_plan_writes() {
        let text = "JOB a leaf.sub\nVARS a node=\"a\" args=\"-o x \\\"y\\\" c:\\d\"\nRETRY a 3 UNLESS-EXIT 42\nSCRIPT POST a /bin/p post $JOB $RETURN\n\
             JOB m merge.sub\nCATEGORY m merge\nPARENT a CHILD m\nMAXJOBS merge 2\nNODE_STATUS_FILE s 30\n";
        let dag = Dag::parse(text).unwrap();
        assert_eq!(
            dag.node(0).vars[1],
            ("args".into(), "-o x \"y\" c:\\d".into())
        );
        assert_eq!(dag.node(0).retry.unwrap().unless_exit, Some(42));
        assert_eq!(
            dag.node(0).post.as_deref(),
            Some("/bin/p post $JOB $RETURN")
        );
        assert_eq!(dag.node(1).parents, vec![0]);
        assert_eq!(dag.limit("merge"), Some(2));
        // Written back: the same DAG (a lone backslash is written escaped).
        assert_eq!(Dag::parse(&dag.to_string()).unwrap(), dag);
    }

    #[test]
    fn refuses_what_the_runner_cannot_do() {
        for (text, needle) in [
            (
                "JOB a a.sub\nABORT-DAG-ON a 3 RETURN 1\n",
                "unexpected keyword ABORT-DAG-ON",
            ),
            ("JOB a a.sub\nSCRIPT DEFER 4 30 POST a x\n", "SCRIPT must"),
            ("JOB a a.sub\nRETRY a 3 UNLESS-EXIT\n", "RETRY must"),
            ("JOB a a.sub\nVARS a x=1\n", "must be quoted"),
            ("JOB a a.sub\nVARS b x=\"1\"\n", "VARS of undefined node b"),
        ] {
            let e = Dag::parse(text).unwrap_err().to_string();
            assert!(e.contains(needle) && e.starts_with("line 2:"), "{e}");
        }
        let d = Dag::parse("job a a.sub\nretry a 2 unless_exit 3\nparent a child a\n").unwrap();
        assert_eq!(d.node(0).retry.unwrap().unless_exit, Some(3));
        assert_eq!(d.find_cycle(), Some("a"));
    }
}
