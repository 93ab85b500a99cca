//! Public functions whose error type is a bare `String`, found by reading the workspace's
//! sources, so a test can keep them out: a library's errors are typed (thiserror, each variant
//! naming the file, dataset, field or chunk), and a `String` drops that and any source.
//!
//! A function counts when it is declared `pub` (not `pub(crate)`, `pub(super)`, `pub(in ..)`)
//! and its return type holds a `Result<T, String>`, signatures spread over lines included.
//! Comments and string literals are ignored. Directories named `target` or `tests`, and hidden
//! ones, are left out. This is a text scan, not a compiler: a `String` behind a type alias is
//! not seen.

use std::path::{Path, PathBuf};

use crate::modules::clean;

/// Every offending function under `root`, as `path: signature` (path relative to `root`).
pub fn string_error_fns(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rs_files(root, &mut files);
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f)
            .unwrap_or_else(|e| panic!("{}: cannot read: {e}", f.display()));
        let rel = f.strip_prefix(root).unwrap_or(&f).display().to_string();
        for sig in in_source(&text) {
            out.push(format!("{rel}: {sig}"));
        }
    }
    out
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        if p.is_dir() {
            if name != "target" && name != "tests" && !name.starts_with('.') {
                rs_files(&p, out);
            }
        } else if name.ends_with(".rs") {
            out.push(p);
        }
    }
}

/// The signatures (whitespace collapsed) of the public functions in `src` that return a
/// `Result<_, String>`.
pub fn in_source(src: &str) -> Vec<String> {
    let t = clean(src);
    let b = t.as_bytes();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(k) = t[from..].find("pub") {
        let i = from + k;
        from = i + 3;
        let word_start = i == 0 || !is_ident(b[i - 1]);
        if !word_start || b.get(i + 3).is_some_and(|&c| is_ident(c)) {
            continue;
        }
        // `pub` then qualifiers then `fn`; `pub(..)` is not public.
        let mut j = i + 3;
        let mut is_fn = false;
        loop {
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            let start = j;
            while j < b.len() && is_ident(b[j]) {
                j += 1;
            }
            match &t[start..j] {
                "const" | "async" | "unsafe" | "extern" => {}
                // `extern "C"`: the ABI string is cleaned to `""`.
                "" if t[j..].starts_with("\"\"") => j += 2,
                "fn" => {
                    is_fn = true;
                    break;
                }
                _ => break,
            }
        }
        if !is_fn {
            continue;
        }
        let end = t[j..].find(['{', ';']).map_or(t.len(), |e| j + e);
        let sig = &t[i..end];
        if returns_string_error(sig) {
            found.push(sig.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
    found
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Whether the return type of the signature `sig` holds a `Result<_, String>`.
fn returns_string_error(sig: &str) -> bool {
    // The return type: after the `->` outside the parameter list and generics.
    let b = sig.as_bytes();
    let mut depth = 0i32;
    let mut ret = None;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'-' if b.get(i + 1) == Some(&b'>') => {
                if depth == 0 {
                    ret = Some(i + 2);
                    break;
                }
                i += 1;
            }
            b'(' | b'<' | b'[' => depth += 1,
            b')' | b'>' | b']' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    let Some(r) = ret else { return false };
    let ret: String = sig[r..]
        .split(" where ")
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let mut from = 0;
    while let Some(k) = ret[from..].find("Result<") {
        let open = from + k + "Result<".len();
        from = open;
        if let Some(args) = generic_args(&ret[open..]) {
            if args.len() == 2 && matches!(args[1], "String" | "std::string::String") {
                return true;
            }
        }
    }
    false
}

/// The top-level arguments of the generic list starting just after its `<`.
fn generic_args(s: &str) -> Option<Vec<&str>> {
    let mut depth = 0i32;
    let mut start = 0;
    let mut args = Vec::new();
    for (i, c) in s.char_indices() {
        match c {
            '<' | '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            '>' if depth == 0 => {
                args.push(&s[start..i]);
                return Some(args);
            }
            '>' => depth -= 1,
            ',' if depth == 0 => {
                args.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_public_string_errors_only() {
        let src = r#"
            pub fn a(x: &str) -> Result<u8, String> { todo!() }
            pub fn b(
                x: &str,
            ) -> std::result::Result<Vec<(u8, u16)>, String>
            where
                T: Clone,
            { todo!() }
            pub async unsafe fn c() -> Option<Result<(), String>>;
            pub(crate) fn d() -> Result<(), String> { todo!() }
            fn e() -> Result<(), String> { todo!() }
            pub fn f(g: impl Fn() -> Result<(), String>) -> Result<(), MyError> { todo!() }
            pub fn h() -> Result<String, MyError> { todo!() }
            // pub fn i() -> Result<(), String>
            const J: &str = "pub fn j() -> Result<(), String> {}";
            pub struct K { pub fn_like: Result<(), String> }
            pub fn l<T: Into<Result<(), String>>>(t: T) -> u8 { 0 }
        "#;
        let found = in_source(src);
        assert_eq!(
            found,
            [
                "pub fn a(x: &str) -> Result<u8, String>",
                "pub fn b( x: &str, ) -> std::result::Result<Vec<(u8, u16)>, String> where T: Clone,",
                "pub async unsafe fn c() -> Option<Result<(), String>>",
            ],
            "{found:#?}"
        );
    }

    /// The rule of HELPERS.md and issue 12: no `Result<_, String>` in a public function.
    #[test]
    fn no_public_function_of_the_workspace_returns_a_string_error() {
        let found = string_error_fns(&crate::workspace());
        assert!(
            found.is_empty(),
            "public functions returning Result<_, String> (give them a thiserror type naming the \
             file/dataset/field):\n  {}",
            found.join("\n  ")
        );
    }
}
