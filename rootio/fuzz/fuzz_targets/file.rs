//! Any bytes as a ROOT file: header, keys, directories, streamer info, TTree metadata,
//! baskets (on disk and embedded) and column decoding must give errors, never panics.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use rootio::{MemSource, RootFile};

fuzz_target!(|data: &[u8]| {
    let Ok(file) = RootFile::from_source(Arc::new(MemSource::new("fuzz.root", data.to_vec()))) else {
        return;
    };
    let _ = file.streamer_infos();
    let Ok(keys) = file.walk() else { return };
    for (path, key) in keys {
        if key.class != "TTree" {
            let _ = file.read_object(&key);
            continue;
        }
        let Ok(tree) = file.tree(&path) else { continue };
        let names: Vec<String> = (0..tree.branches.len())
            .filter(|&b| tree.column_type(b).is_ok())
            .map(|b| tree.branches[b].name.clone())
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let _ = tree.read(&refs, 0, tree.entries.min(1_000_000));
        let _ = rootio::BatchPolicy::even(100).batches(&tree, &refs, 0, tree.entries);
    }
});
