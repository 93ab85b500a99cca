//! Class versions without a hand-written decoder are read through the file's streamer info.
//! Forcing that path on every real file and fixture must give exactly the same tree as the
//! hand-written decoders (which the reference tests check against uproot).

use std::path::Path;

use rootio::{RootFile, Tree};

use casa_test_support::{fixture, workspace};

fn summary(t: &Tree) -> Vec<String> {
    let mut out = vec![format!(
        "entries={} title={} autoflush={} clusters={:?}/{:?} top={:?}",
        t.entries,
        t.title,
        t.auto_flush,
        t.cluster_range_end,
        t.cluster_size,
        t.top.len()
    )];
    let mut branches: Vec<String> = t
        .branches
        .iter()
        .map(|b| {
            let leaves: Vec<String> = b
                .leaves
                .iter()
                .map(|&l| {
                    let l = &t.leaves[l];
                    format!(
                        "{}:{}:{}:{}:{}:{:?}:{:?}",
                        l.class,
                        l.name,
                        l.title,
                        l.len,
                        l.is_unsigned,
                        l.leaf_count.map(|c| t.leaves[c].name.clone()),
                        l.element_type
                    )
                })
                .collect();
            let children: Vec<&str> = b
                .children
                .iter()
                .map(|&c| t.branches[c].name.as_str())
                .collect();
            let embedded: Vec<(usize, usize, usize)> = b
                .embedded
                .iter()
                .map(|e| (e.index, e.entries, e.data.len()))
                .collect();
            format!(
                "{} {} {} {} {} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
                b.name,
                b.title,
                b.class,
                b.write_basket,
                b.entries,
                b.basket_bytes.get(..b.write_basket),
                b.basket_entry.get(..b.write_basket + 1),
                b.basket_seek.get(..b.write_basket),
                embedded,
                leaves,
                children,
                b.element
                    .as_ref()
                    .map(|e| (&e.class_name, e.id, e.btype, e.streamer_type)),
                (b.tot_bytes, b.zip_bytes, b.compress, b.entry_offset_len)
            )
        })
        .collect();
    branches.sort();
    out.extend(branches);
    out
}

fn compare(path: &Path) {
    let f = RootFile::open(path.to_str().unwrap()).unwrap();
    for (p, k) in f.walk().unwrap() {
        if k.class != "TTree" {
            continue;
        }
        let a = f.tree(&p).unwrap();
        let b = f
            .tree_via_streamer_info(&p)
            .unwrap_or_else(|e| panic!("{}: {p}: {e}", path.display()));
        assert_eq!(summary(&a), summary(&b), "{}: {p}", path.display());
        // And the data read through it is the same.
        let names: Vec<String> = (0..a.branches.len())
            .filter(|&i| a.column_type(i).is_ok())
            .map(|i| a.address(i))
            .take(40)
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let x = a.read(&refs, 0, a.entries).unwrap();
        let y = b.read(&refs, 0, b.entries).unwrap();
        for (cx, cy) in x.columns.iter().zip(&y.columns) {
            assert_eq!(cx.offsets, cy.offsets, "{p}/{}", cx.name);
            assert_eq!(
                format!("{:?}", cx.values),
                format!("{:?}", cy.values),
                "{p}/{}",
                cx.name
            );
        }
    }
}

#[test]
fn real_files_read_the_same_through_streamer_info() {
    let dir = workspace().join("tests/data/root");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "root") {
            compare(&p);
            n += 1;
        }
    }
    assert!(n >= 20);
}

#[test]
fn fixtures_read_the_same_through_streamer_info() {
    for name in [
        "root-zstd.root",
        "root-lzma.root",
        "root-hadd.root",
        "root-dirs.root",
        "uproot-zstd.root",
    ] {
        compare(&fixture(name));
    }
}
