//! An out-of-range index into the SDK's per-event accessors panics at the caller's line (the
//! location a plugin's error reports), not inside the SDK.

use std::panic::catch_unwind as cu;
use std::sync::{Arc, Mutex};

use casa_plugin::testing::TestBatch;

#[test]
fn accessor_panics_point_at_the_caller() {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let s = seen.clone();
    std::panic::set_hook(Box::new(move |info| {
        let l = info.location().unwrap();
        s.lock().unwrap().push(format!("{}:{}", l.file(), l.line()));
    }));
    let b = TestBatch::new(2).jagged("Jet_pt", &[&[40.0f32][..], &[]]);
    let ev = b.events();
    let jets = ev.collection("Jet").unwrap();
    let all = jets.all();
    let pt = jets.field::<f32>("pt").unwrap();
    // Each call on the same line as its line!() (kept short so rustfmt leaves it there).
    let lines = [
        (line!(), cu(|| all.event(5).len()).is_err()),
        (line!(), cu(|| jets.range(7).len()).is_err()),
        (line!(), cu(|| pt.row(3).len()).is_err()),
    ];
    let _ = std::panic::take_hook();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3, "{seen:?}");
    for ((line, panicked), at) in lines.iter().zip(seen.iter()) {
        assert!(panicked);
        assert_eq!(at, &format!("{}:{line}", file!()));
    }
}
