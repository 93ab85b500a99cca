//! The import graph between the top-level modules of a crate, read from its sources, so a test
//! can check that modules form layers (no module reaches back up to one that uses it).
//!
//! A module is a file `src/NAME.rs` or a directory `src/NAME/` (all files in it count as
//! `NAME`); `src/lib.rs` is the crate root, named `crate`, and `src/main.rs` and `src/bin/` are
//! binaries, left out. An edge `a -> b` is any path `crate::b...` (also inside `use crate::{..}`
//! groups) or `super::b` in a file of `a`, outside comments and string literals. A path to an
//! item that `lib.rs` re-exports (`crate::Error`) counts as an edge to the module the item
//! comes from; one to an item defined in `lib.rs` itself is an edge to `crate`. In `lib.rs`,
//! plain `b::...` paths outside `mod`/`pub use` lines are its own edges.
//!
//! This is a text scan, not a compiler: macros that build paths are not seen. It is meant to
//! catch the ordinary `use` that closes a cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The name of the crate root in the graph.
pub const ROOT: &str = "crate";

/// Module name -> the modules it imports (without itself).
pub type Graph = BTreeMap<String, BTreeSet<String>>;

/// The import graph of the crate whose `src/` directory is `src`.
pub fn graph(src: &Path) -> Graph {
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    for entry in read_dir(src) {
        let name = entry.file_name().unwrap().to_string_lossy().to_string();
        if entry.is_dir() {
            if name == "bin" {
                continue;
            }
            for f in rs_files(&entry) {
                files.push((name.clone(), f));
            }
        } else if let Some(stem) = name.strip_suffix(".rs") {
            match stem {
                "main" => {}
                "lib" => files.push((ROOT.to_string(), entry)),
                _ => files.push((stem.to_string(), entry)),
            }
        }
    }
    let modules: BTreeSet<String> = files.iter().map(|(m, _)| m.clone()).collect();
    let lib = src.join("lib.rs");
    let lib_text = std::fs::read_to_string(&lib)
        .map(|t| clean(&t))
        .unwrap_or_default();
    let reexports = reexports(&lib_text, &modules);
    let mut g: Graph = modules
        .iter()
        .map(|m| (m.clone(), BTreeSet::new()))
        .collect();
    for (module, path) in &files {
        let text = clean(&std::fs::read_to_string(path).unwrap_or_else(|e| {
            panic!("{}: {e}", path.display());
        }));
        let mut targets = Vec::new();
        for head in crate_paths(&text) {
            if modules.contains(&head) && head != ROOT {
                targets.push(head);
            } else if let Some(m) = reexports.get(&head) {
                targets.push(m.clone());
            } else if head != "self" && head != "super" {
                // An item defined in lib.rs itself.
                targets.push(ROOT.to_string());
            }
        }
        targets.extend(
            super_paths(&text)
                .into_iter()
                .filter(|h| modules.contains(h)),
        );
        if module == ROOT {
            targets.extend(root_paths(&text, &modules));
        }
        let edges = g.get_mut(module).expect("every module has a node");
        edges.extend(targets.into_iter().filter(|t| t != module));
    }
    g
}

/// Every cycle's strongly connected component (more than one module), each with one concrete
/// cycle through it, like `["a", "b", "a"]`.
pub fn cycles(g: &Graph) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for scc in sccs(g) {
        if scc.len() < 2 {
            continue;
        }
        out.push(cycle_in(g, &scc));
    }
    out
}

/// The cycles as text, one line per strongly connected component: one concrete cycle, and the
/// other modules caught in the same tangle (empty when the graph is acyclic).
pub fn describe_cycles(g: &Graph) -> String {
    sccs(g)
        .into_iter()
        .filter(|scc| scc.len() > 1)
        .map(|scc| {
            let cycle = cycle_in(g, &scc);
            let others: Vec<&String> = scc.iter().filter(|m| !cycle.contains(m)).collect();
            let mut line = cycle.join(" -> ");
            if !others.is_empty() {
                let names: Vec<&str> = others.iter().map(|s| s.as_str()).collect();
                line += &format!(" (also in this tangle: {})", names.join(", "));
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Edges that go up: `a -> b` where `b` sits in a higher layer than `a` (layers listed bottom
/// first), and modules that are in no layer (every module must be placed). The crate root is
/// above all layers.
pub fn layer_violations(g: &Graph, layers: &[&[&str]]) -> Vec<String> {
    let rank = |m: &str| -> Option<usize> {
        if m == ROOT {
            return Some(layers.len());
        }
        layers.iter().position(|l| l.contains(&m))
    };
    let mut out = Vec::new();
    for (a, targets) in g {
        let Some(ra) = rank(a) else {
            out.push(format!("module '{a}' is in no layer"));
            continue;
        };
        for b in targets {
            match rank(b) {
                Some(rb) if rb <= ra => {}
                Some(_) => out.push(format!("{a} imports {b}, which is in a higher layer")),
                None => out.push(format!("module '{b}' is in no layer")),
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn read_dir(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    v.sort();
    v
}

fn rs_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in read_dir(dir) {
        if p.is_dir() {
            out.extend(rs_files(&p));
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
    out
}

/// The source with comments and the contents of string and char literals blanked, so a
/// `crate::` in a doc comment or a message is not taken for an import.
pub(crate) fn clean(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < c.len() {
        let at = |k: usize| c.get(i + k).copied().unwrap_or('\0');
        if at(0) == '/' && at(1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if at(0) == '/' && at(1) == '*' {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if at(0) == 'r'
            && (at(1) == '"' || (at(1) == '#' && (at(2) == '"' || at(2) == '#')))
            && !c
                .get(i.wrapping_sub(1))
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            // A raw string: r"..", r#".."#, ...
            let mut j = i + 1;
            let mut hashes = 0;
            while c.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            j += 1;
            loop {
                if j >= c.len() {
                    break;
                }
                if c[j] == '"' && (0..hashes).all(|h| c.get(j + 1 + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if at(0) == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                i += if c[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if at(0) == '\'' && (at(2) == '\'' || at(1) == '\\') {
            // A char literal ('x', '\n', '\u{..}'); a lifetime ('a) has no closing quote.
            i += 1;
            while i < c.len() && c[i] != '\'' {
                i += if c[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("' '");
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

fn is_ident(ch: char) -> bool {
    ch.is_alphanumeric() || ch == '_'
}

/// The identifier starting at byte `i` (after spaces), and where it ends.
fn ident_at(t: &str, mut i: usize) -> Option<(String, usize)> {
    let b = t.as_bytes();
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    let start = i;
    while i < b.len() && is_ident(b[i] as char) {
        i += 1;
    }
    (i > start).then(|| (t[start..i].to_string(), i))
}

/// Skip spaces and one `::` after position `i`; the position after it, if there is one.
fn after_colons(t: &str, mut i: usize) -> Option<usize> {
    let b = t.as_bytes();
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    (t[i..].starts_with("::")).then_some(i + 2)
}

/// Positions where the whole word `word` occurs.
fn words<'t>(t: &'t str, word: &'t str) -> impl Iterator<Item = usize> + 't {
    t.match_indices(word).map(|(i, _)| i).filter(move |&i| {
        let before = t[..i].chars().next_back();
        let after = t[i + word.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

/// The first segment of every `crate::...` path (each first-level name in a `crate::{..}`
/// group).
fn crate_paths(t: &str) -> Vec<String> {
    let mut out = Vec::new();
    for i in words(t, "crate") {
        let Some(j) = after_colons(t, i + "crate".len()) else {
            continue;
        };
        let rest = t[j..].trim_start();
        if let Some(group) = rest.strip_prefix('{') {
            out.extend(group_heads(group));
        } else if let Some((id, _)) = ident_at(t, j) {
            out.push(id);
        }
    }
    out
}

/// The first-level names in a `{a::x, b, c::{..}}` group (the text after its `{`).
fn group_heads(group: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut item_start = true;
    let mut i = 0;
    let b = group.as_bytes();
    while i < b.len() {
        match b[i] {
            b'{' => depth += 1,
            b'}' if depth == 0 => break,
            b'}' => depth -= 1,
            b',' if depth == 0 => item_start = true,
            ch if item_start && is_ident(ch as char) => {
                if let Some((id, end)) = ident_at(group, i) {
                    out.push(id);
                    item_start = false;
                    i = end;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// The name after every chain of `super::` (a sibling module when the file is a top-level one).
fn super_paths(t: &str) -> Vec<String> {
    let mut out = Vec::new();
    for i in words(t, "super") {
        let mut j = i;
        while let Some(k) = after_colons(t, j + "super".len()) {
            match ident_at(t, k) {
                Some((id, end)) if id == "super" => j = end - "super".len(),
                Some((id, _)) => {
                    out.push(id);
                    break;
                }
                None => break,
            }
        }
    }
    out
}

/// In lib.rs: `pub use m::{A, B}` / `pub use m::A` re-exports, item name -> module.
fn reexports(lib: &str, modules: &BTreeSet<String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for stmt in lib.split(';') {
        let s = stmt.trim();
        let Some(rest) = s.strip_prefix("pub use ") else {
            continue;
        };
        let rest = rest
            .trim()
            .trim_start_matches("crate::")
            .trim_start_matches("self::");
        let Some((m, items)) = rest.split_once("::") else {
            continue;
        };
        if !modules.contains(m.trim()) {
            continue;
        }
        let items = items.trim().trim_start_matches('{').trim_end_matches('}');
        for item in items.split(',') {
            // `A as B` exports B; a nested path exports its last name.
            let name = item.split(" as ").last().unwrap_or("").trim();
            let name = name.rsplit("::").next().unwrap_or("").trim();
            if !name.is_empty() && name != "self" && name != "*" {
                out.insert(name.to_string(), m.trim().to_string());
            }
        }
    }
    out
}

/// In lib.rs: modules used by a plain path (`tree::merge(..)`, `use tree::X`), outside `mod`
/// declarations and `pub use` re-exports.
fn root_paths(lib: &str, modules: &BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    for stmt in lib.split(';') {
        let s = stmt.trim_start();
        if s.starts_with("pub use ") {
            continue;
        }
        for m in modules {
            if m == ROOT {
                continue;
            }
            let used = words(stmt, m).any(|i| {
                let before = stmt[..i].trim_end();
                !before.ends_with("mod") && after_colons(stmt, i + m.len()).is_some()
            });
            if used {
                out.push(m.clone());
            }
        }
    }
    out
}

/// Strongly connected components (Tarjan), each sorted.
fn sccs(g: &Graph) -> Vec<Vec<String>> {
    struct State<'g> {
        g: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on: BTreeSet<&'g str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on.insert(v);
        for w in s.g.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.g.contains_key(w) {
                continue;
            }
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.on.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            comp.sort();
            s.out.push(comp);
        }
    }
    let mut s = State {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

/// A shortest cycle through the first module of a strongly connected component.
fn cycle_in(g: &Graph, scc: &[String]) -> Vec<String> {
    let start = &scc[0];
    let inside: BTreeSet<&String> = scc.iter().collect();
    // Breadth first from `start` inside the component, back to `start`.
    let mut prev: BTreeMap<&String, &String> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for w in g.get(v).into_iter().flatten() {
            if !inside.contains(w) {
                continue;
            }
            if w == start {
                // Walk back from `v` to `start`, then read it forwards and close the loop.
                let mut back = vec![v.clone()];
                let mut at = v;
                while at != start {
                    at = prev[at];
                    back.push(at.clone());
                }
                back.reverse();
                back.push(start.clone());
                return back;
            }
            if !prev.contains_key(w) && w != start {
                prev.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    scc.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(edges: &[(&str, &str)]) -> Graph {
        let mut g = Graph::new();
        for (a, b) in edges {
            g.entry(a.to_string()).or_default().insert(b.to_string());
            g.entry(b.to_string()).or_default();
        }
        g
    }

    #[test]
    fn finds_a_cycle_and_its_order() {
        let graph = g(&[("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]);
        assert_eq!(cycles(&graph), vec![vec!["a", "b", "c", "a"]]);
        assert!(cycles(&g(&[("a", "b"), ("b", "c")])).is_empty());
    }

    #[test]
    fn comments_and_strings_are_not_imports() {
        let t = clean("// crate::x\nlet s = \"crate::y\"; let c = '\"'; use crate::{z::A, w};");
        assert_eq!(crate_paths(&t), vec!["z", "w"]);
    }
}
