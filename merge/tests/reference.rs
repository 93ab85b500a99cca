//! casa-merge against independent references: Python hist's `sum()` of the same histograms
//! filled from the same data (loaded from histograms.json with uhi.io.json), and casa-hist's
//! own flat addition; any order, fan-in, thread count and chain of merges gives the same bytes.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use casa_hist::{Accumulator, Item};
use common::*;
use serde_json::{json, Value};

const N: usize = 9;

/// casa-hist's flat sum of the partials' accumulators, growth categories sorted.
fn flat(cases: &[HistCase], n: usize) -> Accumulator {
    let mut acc = Accumulator::new();
    for p in 0..n {
        acc.add(&partial_acc(cases, p)).unwrap();
    }
    acc.sort_growth_categories();
    acc
}

fn python_check(cases: &[HistCase], histograms: &Path) -> Value {
    python_check_views(cases, histograms, Value::Null)
}

fn python_check_views(cases: &[HistCase], histograms: &Path, views: Value) -> Value {
    let req = json!({
        "histograms_json": histograms,
        "views": views,
        "hists": cases.iter().map(|c| json!({
            "dataset": c.dataset, "name": c.name, "spec": c.spec,
            "fills": c.fills.iter().map(|f| json!({
                "args": f.args, "weight": f.weight, "sample": f.sample})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference.py");
    let mut child = casa_test_support::python_command()
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the reference Python");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(req.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "reference.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn histograms_json_equals_python_hist_sum_of_the_same_fills() {
    let d = tempfile::tempdir().unwrap();
    let cases = cases(N, 1);
    write_cases(&d.path().join("in"), &cases, N);
    let out = d.path().join("out");
    let o = run([
        "-o".as_ref(),
        out.join("merged.partial").as_os_str(),
        "--outdir".as_ref(),
        out.as_os_str(),
        d.path().join("in").as_os_str(),
        "--fan-in".as_ref(),
        "3".as_ref(),
        "-j".as_ref(),
        "2".as_ref(),
    ]);
    assert_ok(&o);
    assert!(o.stdout.is_empty(), "quiet by default");
    let r = python_check(&cases, &out.join("histograms.json"));
    assert_eq!(r["failures"], json!([]), "{r}");
    assert_eq!(r["checked"], json!(cases.len()), "{r}");
    assert_eq!(
        r["in_file"],
        json!(cases.len()),
        "every histogram checked: {r}"
    );

    // The merged payload is casa-hist's flat sum, bit for bit (counters included).
    let merged: Accumulator =
        serde_json::from_slice(&payload(&out.join("merged.partial"))).unwrap();
    let reference = flat(&cases, N);
    assert_eq!(
        serde_json::to_vec(&merged).unwrap(),
        serde_json::to_vec(&reference).unwrap()
    );
    let nevents: i64 = (0..N as i64).map(|p| 1000 + p).sum();
    assert_eq!(
        merged.get("TT", "nevents"),
        Some(&Item::Counter(casa_hist::Counter::Int(nevents)))
    );
    // Header: every chunk once, events summed, producer and plugin.
    let (h, _) = casa_formats::partial::read(&out.join("merged.partial")).unwrap();
    assert_eq!(h.chunks.len(), 2 * N);
    assert_eq!(h.events, 2000 * N as u64);
    assert!(h.producer.starts_with("casa-merge "), "{}", h.producer);
    assert_eq!(
        (h.plugin.as_str(), h.run_id.as_str()),
        ("test-plugin", "test-run")
    );
    let report: Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["merged"], json!(N));
    assert_eq!(report["entries_by_dataset"]["DY"], json!(1000 * N));
}

/// `uhi validate` (the PyPI uhi CLI) on a file of histograms.
fn uhi_validate(file: &Path) {
    let o = casa_test_support::python_command()
        .args(["-m", "uhi", "validate"])
        .arg(file)
        .output()
        .expect("run uhi validate");
    assert!(
        o.status.success(),
        "uhi validate {}: {}{}",
        file.display(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn uhi_files_validate_and_views_equal_python_sums() {
    let d = tempfile::tempdir().unwrap();
    let cases = cases(N, 3);
    write_cases(&d.path().join("in"), &cases, N);
    // The datasets' metadata, as a coffea fileset gives it.
    let fileset = d.path().join("fileset.json");
    std::fs::write(
        &fileset,
        json!({
            "DY": {"files": {"/data/dy.root": "Events"}, "metadata": {"process": "dy"}},
            "TT": {"files": {"/data/tt.root": "Events"}, "metadata": {"process": "ttbar"}},
        })
        .to_string(),
    )
    .unwrap();
    let out = d.path().join("out");
    let o = run([
        "--outdir".as_ref(),
        out.as_os_str(),
        "--sum".as_ref(),
        "--group-by".as_ref(),
        "process".as_ref(),
        "--fileset".as_ref(),
        fileset.as_os_str(),
        d.path().join("in").as_os_str(),
    ]);
    assert_ok(&o);
    // The views are plotted too (those of one or two axes).
    let report: Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    for view in ["sum", "by-process"] {
        let drawn = report["plots"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["dataset"] == view && p.get("path").is_some())
            .count();
        assert!(drawn >= 3, "{view}: {drawn} plots: {}", report["plots"]);
    }
    assert!(out.join("plots/by-process/pt.png").exists());
    let views = json!({"sum": true, "group_by": "process",
                       "groups": {"DY": "dy", "TT": "ttbar"}});
    let json_file = out.join("histograms.json");
    uhi_validate(&json_file);
    let r = python_check_views(&cases, &json_file, views.clone());
    assert_eq!(r["failures"], json!([]), "{r}");
    assert_eq!(r["checked"], json!(cases.len()), "{r}");
    // Every histogram name has a sum and a grouped view.
    let names = cases
        .iter()
        .map(|c| c.name.as_str())
        .collect::<std::collections::BTreeSet<_>>();
    assert_eq!(r["views_checked"], json!(2 * names.len()), "{r}");
    assert!(r["uhi_added"].as_u64().unwrap() >= 10, "{r}");

    // The same document gzipped by `export`, as hist's h.write("x.json.gz").
    let gz = d.path().join("export/h.json.gz");
    assert_ok(&run([
        "export".as_ref(),
        out.join("merged.partial").as_os_str(),
        "--uhi".as_ref(),
        gz.as_os_str(),
        "--sum".as_ref(),
        "--group-by".as_ref(),
        "process".as_ref(),
        "--fileset".as_ref(),
        fileset.as_os_str(),
    ]));
    let bytes = std::fs::read(&gz).unwrap();
    assert_eq!(&bytes[..2], &[0x1f, 0x8b], "gzip");
    let r = python_check_views(&cases, &gz, views);
    assert_eq!(r["failures"], json!([]), "{r}");
    // uhi validate reads .json only: the decompressed text, which is histograms.json's.
    let mut text = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text).unwrap();
    assert_eq!(text, std::fs::read(&json_file).unwrap());

    // `plot --hist sum/<name>` on the merged partial (which has no views) adds the datasets
    // as the file's `sum/<name>` did.
    let doc = casa_hist::parse_json_lenient(&std::fs::read_to_string(&json_file).unwrap()).unwrap();
    let svg = d.path().join("sum-pt.svg");
    let o = run([
        "plot".as_ref(),
        out.join("merged.partial").as_os_str(),
        "--hist".as_ref(),
        "sum/pt".as_ref(),
        "--json".as_ref(),
        "-o".as_ref(),
        svg.as_os_str(),
    ]);
    assert_ok(&o);
    let drawn: Value = serde_json::from_slice(&o.stdout).unwrap();
    let sum_pt = casa_hist::Hist::from_uhi(&doc["sum/pt"]).unwrap();
    assert_eq!(drawn["values"][0], json!(sum_pt.values(false)));

    // A dataset without the key: refused before anything is written.
    std::fs::write(
        &fileset,
        json!({"DY": {"files": {"/data/dy.root": "Events"}, "metadata": {}},
               "TT": {"files": {"/data/tt.root": "Events"}, "metadata": {"process": "ttbar"}}})
        .to_string(),
    )
    .unwrap();
    let out2 = d.path().join("out2");
    let o = run([
        "--outdir".as_ref(),
        out2.as_os_str(),
        "--group-by".as_ref(),
        "process".as_ref(),
        "--fileset".as_ref(),
        fileset.as_os_str(),
        d.path().join("in").as_os_str(),
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("`DY`") && stderr(&o).contains("process"),
        "{}",
        stderr(&o)
    );
    assert!(!out2.join("merged.partial").exists());
}

/// Copies the partials under names that sort in the order `perm` gives.
fn permuted(src: &[PathBuf], dir: &Path, perm: &[usize]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    for (rank, &i) in perm.iter().enumerate() {
        std::fs::copy(&src[i], dir.join(format!("{rank:03}-{i}.partial"))).unwrap();
    }
    dir.to_path_buf()
}

#[test]
fn any_order_fan_in_threads_and_chain_of_merges_give_the_same_bytes() {
    let d = tempfile::tempdir().unwrap();
    let cases = cases(N, 7);
    let src = write_cases(&d.path().join("src"), &cases, N);
    let want = serde_json::to_vec(&flat(&cases, N)).unwrap();
    let orders: [Vec<usize>; 3] = [
        (0..N).collect(),
        (0..N).rev().collect(),
        vec![4, 8, 0, 3, 7, 1, 6, 2, 5],
    ];
    let mut k = 0;
    for (o, order) in orders.iter().enumerate() {
        let dir = permuted(&src, &d.path().join(format!("order{o}")), order);
        for (fan_in, jobs) in [("2", "1"), ("3", "2"), ("16", "2"), ("4", "1")] {
            k += 1;
            let out = d.path().join(format!("m{k}.partial"));
            assert_ok(&run([
                "-o".as_ref(),
                out.as_os_str(),
                dir.as_os_str(),
                "--fan-in".as_ref(),
                fan_in.as_ref(),
                "-j".as_ref(),
                jobs.as_ref(),
            ]));
            assert!(
                payload(&out) == want,
                "order {order:?}, fan-in {fan_in}, -j {jobs}"
            );
        }
    }
    // As DAG merge nodes do: merge groups, then merge the merged partials.
    let groups: [&[usize]; 3] = [&[0, 5, 2], &[8, 1], &[3, 4, 6, 7]];
    let mut mids = Vec::new();
    for (g, members) in groups.iter().enumerate() {
        let list = d.path().join(format!("list{g}.txt"));
        let text: String = members
            .iter()
            .map(|&i| format!("{}\n", src[i].display()))
            .collect();
        std::fs::write(&list, format!("# group {g}\n{text}\n")).unwrap();
        let mid = d.path().join(format!("mid/m{g}.partial"));
        assert_ok(&run([
            "-o".as_ref(),
            mid.as_os_str(),
            "--from-list".as_ref(),
            list.as_os_str(),
            "--node".as_ref(),
            format!("merge-{g}").as_ref(),
        ]));
        mids.push(mid);
    }
    let top = d.path().join("top.partial");
    assert_ok(&run([
        "-o".as_ref(),
        top.as_os_str(),
        d.path().join("mid").as_os_str(),
    ]));
    assert!(
        payload(&top) == want,
        "chained merges differ from the flat sum"
    );
    let (h, _) = casa_formats::partial::read(&top).unwrap();
    assert_eq!(h.chunks.len(), 2 * N);
    assert_eq!(h.events, 2000 * N as u64);
}
