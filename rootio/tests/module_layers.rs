//! The modules of rootio form layers, and no library crate here has an import cycle between its
//! modules: a cycle means neither module can be understood, tested or replaced alone (rootio
//! had file <-> tree, tree <-> types and tree -> streamed -> read -> tree). The graph comes
//! from the sources (`casa_test_support::modules`), so a new `use` that closes a cycle fails
//! here with the cycle printed.

use casa_test_support::modules::{self, Graph};
use casa_test_support::workspace;

fn graph_of(krate: &str) -> Graph {
    modules::graph(&workspace().join(krate).join("src"))
}

fn assert_acyclic(krate: &str) {
    let g = graph_of(krate);
    let cycles = modules::describe_cycles(&g);
    assert!(
        cycles.is_empty(),
        "{krate}: import cycles between modules:\n{cycles}\n(graph: {g:#?})"
    );
}

/// rootio's layers, bottom first: a module may import its own layer (without a cycle) and the
/// layers below. See docs/ARCHITECTURE.md.
const ROOTIO_LAYERS: &[&[&str]] = &[
    // Bytes: where they come from, bounds-checked reading, decompression, the error type.
    &["error", "source", "cursor", "compress"],
    // Objects: ROOT's object encoding, streamer infos, reading by streamer info, column types.
    &["objects", "streamer", "streamed", "types"],
    // The format-neutral columnar interface: batches, plans, the event-source trait, batching.
    &["columns", "event", "batching"],
    // The TFile container: header, keys, directories.
    &["file"],
    // A basket's key, header and entry-offset table, checked against the tree's record.
    &["basket"],
    // TTree and RNTuple metadata (the models), then reading them column by column.
    &["tree", "ntuple"],
    &["read", "ntuple_read"],
    // Opening an event source by name, dispatching on the object's class.
    &["open"],
];

#[test]
fn rootio_modules_form_the_documented_layers() {
    assert_acyclic("rootio");
    let g = graph_of("rootio");
    let bad = modules::layer_violations(&g, ROOTIO_LAYERS);
    assert!(bad.is_empty(), "rootio layering:\n{}", bad.join("\n"));
}

#[test]
fn hist_has_no_module_cycles() {
    assert_acyclic("hist");
}

#[test]
fn merge_has_no_module_cycles() {
    assert_acyclic("merge");
}

/// The check itself can fail: a crate with a cycle hidden in a `use crate::{..}` group, a
/// re-export and a `super::` path is caught, and comments and strings are not read as imports.
#[test]
fn a_cycle_is_found_and_printed() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("d")).unwrap();
    let write = |p: &str, t: &str| std::fs::write(src.join(p), t).unwrap();
    write(
        "lib.rs",
        "mod a;\nmod b;\nmod c;\nmod d;\npub use c::Thing;\n",
    );
    write(
        "a.rs",
        "use crate::{b::B, b::C as _};\n// crate::d is only a comment\n",
    );
    write("b.rs", "fn f() -> crate::Thing { todo!(\"crate::a\") }\n");
    write("c.rs", "use super::d::Deep;\npub struct Thing;\n");
    write("d/mod.rs", "mod inner;\n");
    write("d/inner.rs", "use crate::a::A;\nuse super::Other;\n");
    let g = modules::graph(&src);
    assert_eq!(
        modules::describe_cycles(&g),
        "a -> b -> c -> d -> a",
        "graph: {g:#?}"
    );
    // A layer list that puts `a` below `b` reports the upward import.
    let bad = modules::layer_violations(&g, &[&["a"], &["b", "c", "d"]]);
    assert_eq!(bad, vec!["a imports b, which is in a higher layer"]);
}
