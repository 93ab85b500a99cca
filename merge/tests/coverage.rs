//! Coverage against a run directory's plan (`RUNDIR/jobs/*.json`, written with
//! casa_formats::JobSpec), strict and allow-missing, and the report's metrics section from
//! `RUNDIR/metrics/*.json` (HdrHistograms written here with the hdrhistogram crate).

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use base64::Engine;
use casa_formats::{Chunk, JobMetrics, JobSpec};
use casa_merge::exit;
use common::*;
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde_json::{json, Value};

/// (dataset, file, start, stop).
type Span = (&'static str, &'static str, u64, u64);

/// (node, chunks) of the plan.
const PLAN: [(&str, &[Span]); 5] = [
    ("leaf-0", &[("DY", "a.root", 0, 100)]),
    ("leaf-1", &[("DY", "a.root", 100, 200)]),
    ("leaf-2", &[("DY", "a.root", 200, 300)]),
    (
        "leaf-3",
        &[("DY", "b.root", 0, 50), ("TT", "c.root", 0, 40)],
    ),
    ("leaf-4", &[("TT", "c.root", 40, 80)]),
];

/// A run directory with the plan's job specs, and partials for the `done` leaves.
fn rundir(root: &Path, done: &[usize]) {
    std::fs::create_dir_all(root.join("jobs")).unwrap();
    std::fs::create_dir_all(root.join("partials")).unwrap();
    for (k, (node, chunks)) in PLAN.iter().enumerate() {
        let spec = JobSpec::new(
            "run-1",
            node,
            chunks
                .iter()
                .map(|&(ds, file, a, b)| Chunk {
                    dataset: ds.into(),
                    file: file.into(),
                    tree: "Events".into(),
                    entry_start: a,
                    entry_stop: b,
                    uuid: Some(format!("uuid-{file}")),
                    metadata: json!({"is_mc": true}),
                })
                .collect(),
        );
        std::fs::write(
            root.join(format!("jobs/{node}.json")),
            serde_json::to_vec_pretty(&spec).unwrap(),
        )
        .unwrap();
        if done.contains(&k) {
            leaf(root, node, chunks, k as u64);
        }
    }
}

fn leaf(root: &Path, node: &str, chunks: &[Span], seed: u64) {
    write_partial(
        &root.join(format!("partials/{node}.partial")),
        chunks
            .iter()
            .map(|&(ds, f, a, b)| chunk(ds, f, a, b))
            .collect(),
        &simple_acc_in(chunks[0].0, seed, 20),
    );
}

fn report(root: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(root.join("result/report.json")).unwrap()).unwrap()
}

#[test]
fn strict_mode_fails_on_gaps_listing_them_and_writes_no_result() {
    let d = tempfile::tempdir().unwrap();
    let run_dir = d.path().join("run");
    rundir(&run_dir, &[0, 3, 4]);
    let o = run(["--run".as_ref(), run_dir.as_os_str()]);
    let err = stderr(&o);
    assert_eq!(code(&o), i32::from(exit::COVERAGE), "{err}");
    assert!(
        err.contains("200 of 430 planned events missing in 1 ranges"),
        "{err}"
    );
    // The two missing jobs' ranges are one gap, with both jobs named.
    assert!(
        err.contains("DY a.root Events [100, 300) (jobs leaf-1, leaf-2)"),
        "{err}"
    );
    assert!(err.contains(&run_dir.display().to_string()), "{err}");
    assert!(!run_dir.join("result/merged.partial").exists());
    assert!(!run_dir.join("result/histograms.json").exists());
    let r = report(&run_dir);
    assert_eq!(r["status"], json!("incomplete"));
    assert_eq!(r["output"], Value::Null);
    let c = &r["coverage"];
    assert_eq!(
        c["missing"],
        json!([{"dataset": "DY", "file": "a.root", "tree": "Events", "entry_start": 100,
                "entry_stop": 300, "nodes": ["leaf-1", "leaf-2"]}])
    );
    assert_eq!(
        (c["planned_events"].clone(), c["covered_events"].clone()),
        (json!(430), json!(230))
    );
    let ds: Vec<(Value, Value, Value)> = c["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["dataset"].clone(),
                d["planned_events"].clone(),
                d["missing_events"].clone(),
            )
        })
        .collect();
    assert_eq!(
        ds,
        vec![
            (json!("DY"), json!(350), json!(200)),
            (json!("TT"), json!(80), json!(0))
        ]
    );
    let md = std::fs::read_to_string(run_dir.join("result/report.md")).unwrap();
    assert!(
        md.contains("| DY | `a.root` | Events | [100, 300) | 200 | leaf-1, leaf-2 |"),
        "{md}"
    );
}

#[test]
fn allow_missing_writes_the_result_and_lists_the_gaps() {
    let d = tempfile::tempdir().unwrap();
    let run_dir = d.path().join("run");
    rundir(&run_dir, &[0, 2, 3]);
    let o = run([
        "--run".as_ref(),
        run_dir.as_os_str(),
        "--allow-missing".as_ref(),
    ]);
    assert_ok(&o);
    assert!(
        stderr(&o).contains("warning: 140 of 430 planned events missing (2 ranges)"),
        "{}",
        stderr(&o)
    );
    for f in [
        "merged.partial",
        "histograms.json",
        "report.json",
        "report.md",
    ] {
        assert!(run_dir.join("result").join(f).exists(), "{f}");
    }
    let r = report(&run_dir);
    assert_eq!(r["status"], json!("incomplete"));
    let gaps: Vec<(Value, Value, Value)> = r["coverage"]["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["file"].clone(),
                g["entry_start"].clone(),
                g["nodes"].clone(),
            )
        })
        .collect();
    assert_eq!(
        gaps,
        vec![
            (json!("a.root"), json!(100), json!(["leaf-1"])),
            (json!("c.root"), json!(40), json!(["leaf-4"]))
        ]
    );
    let (h, _) = casa_formats::partial::read(&run_dir.join("result/merged.partial")).unwrap();
    assert_eq!(h.events, 290);
}

#[test]
fn a_complete_run_writes_everything() {
    let d = tempfile::tempdir().unwrap();
    let run_dir = d.path().join("run");
    rundir(&run_dir, &[0, 1, 2, 3, 4]);
    let o = run(["--run".as_ref(), run_dir.as_os_str(), "--json".as_ref()]);
    assert_ok(&o);
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    let printed: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(printed["status"], json!("complete"));
    assert_eq!(printed["coverage"]["missing"], json!([]));
    assert_eq!(printed["coverage"]["covered_events"], json!(430));
    assert_eq!(printed["run_id"], json!("test-run"));
    assert!(run_dir.join("result/plots/DY/x.png").exists());
    assert_eq!(report(&run_dir)["status"], json!("complete"));
}

#[test]
fn events_outside_the_plan_fail_in_both_modes() {
    let d = tempfile::tempdir().unwrap();
    let run_dir = d.path().join("run");
    rundir(&run_dir, &[0, 1, 2, 3, 4]);
    leaf(&run_dir, "extra", &[("DY", "a.root", 300, 310)], 9);
    for extra in [&[][..], &["--allow-missing"][..]] {
        let mut args = vec!["--run".to_string(), run_dir.display().to_string()];
        args.extend(extra.iter().map(|s| s.to_string()));
        let o = run(&args);
        assert_eq!(code(&o), i32::from(exit::COVERAGE), "{}", stderr(&o));
        assert!(
            stderr(&o).contains(
                "10 events covered that the plan does not have: DY a.root Events [300, 310)"
            ),
            "{}",
            stderr(&o)
        );
    }
    // A chunk of the planned file name but another UUID is another file.
    std::fs::remove_file(run_dir.join("partials/extra.partial")).unwrap();
    std::fs::remove_file(run_dir.join("partials/leaf-4.partial")).unwrap();
    let mut c = chunk("TT", "c.root", 40, 80);
    c.uuid = "changed".into();
    write_partial(
        &run_dir.join("partials/leaf-4.partial"),
        vec![c],
        &simple_acc_in("TT", 4, 20),
    );
    let o = run(["--run".as_ref(), run_dir.as_os_str()]);
    assert_eq!(code(&o), i32::from(exit::COVERAGE));
    assert!(
        stderr(&o).contains("file UUID changed is not the planned uuid-c.root"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_invalid_plan_is_named() {
    let d = tempfile::tempdir().unwrap();
    let run_dir = d.path().join("run");
    rundir(&run_dir, &[0]);
    let bad = run_dir.join("jobs/leaf-9.json");
    std::fs::write(
        &bad,
        br#"{"format": "casa-job", "version": "1.0", "chunks": []}"#,
    )
    .unwrap();
    let o = run(["--run".as_ref(), run_dir.as_os_str()]);
    assert_eq!(code(&o), i32::from(exit::PLAN), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&bad.display().to_string()),
        "{}",
        stderr(&o)
    );
}

#[test]
fn plan_option_with_named_partials_and_outdir() {
    let d = tempfile::tempdir().unwrap();
    let run_dir = d.path().join("run");
    rundir(&run_dir, &[0, 1, 2, 3, 4]);
    let out = d.path().join("out");
    let o = run([
        "--plan".as_ref(),
        run_dir.as_os_str(),
        run_dir.join("partials").as_os_str(),
        "--outdir".as_ref(),
        out.as_os_str(),
        "--no-plots".as_ref(),
    ]);
    assert_ok(&o);
    assert!(out.join("merged.partial").exists());
    assert!(!out.join("plots").exists());
}

fn latency(values: impl Iterator<Item = u64>) -> String {
    let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
    for v in values {
        h.record(v).unwrap();
    }
    let mut buf = Vec::new();
    V2DeflateSerializer::new().serialize(&h, &mut buf).unwrap();
    base64::engine::general_purpose::STANDARD.encode(buf)
}

/// HdrHistogram's quantile of exactly recorded values: the ceil(q n)-th smallest.
fn quantile(sorted: &[u64], q: f64) -> u64 {
    let k = ((q * sorted.len() as f64).ceil() as usize).max(1);
    sorted[k - 1]
}

/// One metrics file: the attempt's identity and numbers, when it ended (seconds after t0),
/// and the read latencies it saw per server.
struct Job {
    file: &'static str,
    node: &'static str,
    class: &'static str,
    events: u64,
    wall: f64,
    rss: u64,
    end: u64,
    local: std::ops::Range<u64>,
    xcache: std::ops::Range<u64>,
}

impl Job {
    #[allow(clippy::too_many_arguments)]
    fn new(
        file: &'static str,
        node: &'static str,
        class: &'static str,
        events: u64,
        wall: f64,
        rss: u64,
        end: u64,
        local: std::ops::Range<u64>,
        xcache: std::ops::Range<u64>,
    ) -> Job {
        Job {
            file,
            node,
            class,
            events,
            wall,
            rss,
            end,
            local,
            xcache,
        }
    }
}

#[test]
fn the_report_sums_the_jobs_metrics() {
    let d = tempfile::tempdir().unwrap();
    let run_dir = d.path().join("run");
    rundir(&run_dir, &[0, 1, 2, 3, 4]);
    std::fs::create_dir_all(run_dir.join("metrics")).unwrap();
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut local = Vec::new();
    let mut xcache = Vec::new();
    let jobs = [
        Job::new(
            "leaf-0",
            "leaf-0",
            "success",
            100,
            2.0,
            100_000,
            10,
            100..200,
            0..0,
        ),
        Job::new(
            "leaf-1",
            "leaf-1",
            "success",
            100,
            2.5,
            120_000,
            12,
            150..260,
            0..0,
        ),
        Job::new(
            "leaf-2.try1",
            "leaf-2",
            "retryable_input",
            0,
            0.5,
            50_000,
            5,
            0..0,
            1700..1710,
        ),
        Job::new(
            "leaf-2",
            "leaf-2",
            "success",
            100,
            2.0,
            90_000,
            20,
            0..0,
            1000..1400,
        ),
        Job::new(
            "leaf-3",
            "leaf-3",
            "success",
            90,
            3.0,
            250_000,
            14,
            120..130,
            1500..1600,
        ),
        Job::new(
            "leaf-4",
            "leaf-4",
            "success",
            40,
            1.0,
            80_000,
            9,
            300..333,
            0..0,
        ),
    ];
    for Job {
        file,
        node,
        class,
        events,
        wall,
        rss,
        end,
        local: l,
        xcache: x,
    } in jobs
    {
        local.extend(l.clone());
        xcache.extend(x.clone());
        let mut m = JobMetrics {
            format: "casa-metrics".into(),
            version: "1.0".into(),
            run_id: "run-1".into(),
            node: node.into(),
            host: "worker".into(),
            exit_class: class.parse().unwrap(),
            events,
            wall_s: wall,
            cpu_s: wall * 0.9,
            peak_rss_kb: rss,
            bytes_read: 1000,
            read_requests: 10,
            ..Default::default()
        };
        if !l.is_empty() {
            m.read_latency_us.insert("local".into(), latency(l.clone()));
            let reads = casa_formats::metrics::ServerReads {
                requests: l.clone().count() as u64,
                bytes: 1024 * l.clone().count() as u64,
                seconds: l.clone().sum::<u64>() as f64 / 1e6,
            };
            m.reads_by_server.insert("local".into(), reads);
        }
        if !x.is_empty() {
            m.read_latency_us
                .insert("root://xcache:1094".into(), latency(x));
        }
        let path = run_dir.join(format!("metrics/{file}.metrics.json"));
        std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(t0 + Duration::from_secs(end))
            .unwrap();
    }
    std::fs::write(run_dir.join("metrics/broken.metrics.json"), b"{not json").unwrap();
    assert_ok(&run([
        "--run".as_ref(),
        run_dir.as_os_str(),
        "--no-plots".as_ref(),
    ]));
    // Each dataset's completeness in its histograms' UHI metadata: steps and events against
    // the plan, failed attempts (leaf-2 read DY) by class.
    let doc = casa_hist::parse_json_lenient(
        &std::fs::read_to_string(run_dir.join("result/histograms.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        doc["DY/x"]["metadata"],
        json!({"casa_dataset": "DY", "casa_steps_done": 4, "casa_steps_expected": 4,
               "casa_events": 350, "casa_events_expected": 350, "casa_complete": true,
               "casa_failed_retryable_input": 1})
    );
    assert_eq!(
        doc["TT/x"]["metadata"],
        json!({"casa_dataset": "TT", "casa_steps_done": 2, "casa_steps_expected": 2,
               "casa_events": 80, "casa_events_expected": 80, "casa_complete": true})
    );
    let m = &report(&run_dir)["metrics"];
    assert_eq!(m["attempts"], json!(6));
    assert_eq!(m["jobs"], json!(5));
    assert_eq!(m["retries"], json!(1));
    assert_eq!(
        m["by_exit_class"],
        json!({"success": 5, "retryable_input": 1})
    );
    assert_eq!(m["failures"], json!([["leaf-2", "retryable_input"]]));
    assert_eq!(m["events"], json!(430));
    assert_eq!(m["wall_s"], json!(11.0));
    assert_eq!(m["events_per_wall_s"], json!(430.0 / 11.0));
    // From the failed attempt's start (5 - 0.5) to leaf-2's end (20).
    assert_eq!(m["span_s"], json!(15.5));
    assert_eq!(m["events_per_span_s"], json!(430.0 / 15.5));
    assert_eq!(
        (m["peak_rss_kb"].clone(), m["peak_rss_node"].clone()),
        (json!(250_000), json!("leaf-3"))
    );
    assert_eq!(m["bytes_read"], json!(6000));
    for (server, mut values) in [("local", local.clone()), ("root://xcache:1094", xcache)] {
        values.sort_unstable();
        let p = &m["read_latency"][server];
        assert_eq!(p["count"], json!(values.len()), "{server}");
        for (key, q) in [("p50_us", 0.5), ("p90_us", 0.9), ("p99_us", 0.99)] {
            // Values below 2048 are recorded exactly at 3 significant digits.
            assert_eq!(p[key], json!(quantile(&values, q)), "{server} {key}");
        }
        assert_eq!(p["max_us"], json!(values.last().unwrap()), "{server}");
    }
    let unreadable = m["unreadable"].as_array().unwrap();
    assert_eq!(unreadable.len(), 1);
    assert!(unreadable[0]
        .as_str()
        .unwrap()
        .contains("broken.metrics.json"));
    let md = std::fs::read_to_string(run_dir.join("result/report.md")).unwrap();
    assert!(
        md.contains("| root://xcache:1094 |") && md.contains("| retryable_input | 1 |"),
        "{md}"
    );
    // Per byte: every local request read 1 KiB, so µs per KiB is the mean latency; the
    // xcache jobs' metrics (1.0) have no byte counts.
    let r = &m["reads_by_server"]["local"];
    assert_eq!(r["requests"], json!(local.len()));
    assert_eq!(r["bytes"], json!(1024 * local.len()));
    let mean = local.iter().sum::<u64>() as f64 / local.len() as f64;
    let line = md.lines().find(|l| l.starts_with("| local |")).unwrap();
    assert!(
        line.ends_with(&format!("| {mean:.2} | {:.0} |", 1024.0 / mean)),
        "{line}"
    );
    let xline = md
        .lines()
        .find(|l| l.starts_with("| root://xcache:1094 |"))
        .unwrap();
    assert!(xline.ends_with("| — | — | — |"), "{xline}");
}

#[test]
fn a_run_skips_inner_merge_outputs_and_the_dag_final_node_merges_them() {
    let d = tempfile::tempdir().unwrap();
    let run_dir = d.path().join("run");
    rundir(&run_dir, &[0, 1, 2, 3, 4]);
    let p = run_dir.join("partials");
    // An inner merge node of the DAG writes beside the leaves.
    let inner = p.join("merge-1-000000.partial");
    assert_ok(&run([
        "-o".as_ref(),
        inner.as_os_str(),
        "--node".as_ref(),
        "merge-1-000000".as_ref(),
        p.join("leaf-0.partial").as_os_str(),
        p.join("leaf-1.partial").as_os_str(),
        p.join("leaf-3.partial").as_os_str(),
    ]));
    assert_ok(&run([
        "--run".as_ref(),
        run_dir.as_os_str(),
        "--no-plots".as_ref(),
    ]));
    let r = report(&run_dir);
    assert_eq!(r["skipped_merged_partials"], json!([inner]));
    assert_eq!(
        (r["merged"].clone(), r["status"].clone()),
        (json!(5), json!("complete"))
    );
    let from_leaves = payload(&run_dir.join("result/merged.partial"));
    // The final node as casa-submit plans it: the inner merge's output and the other leaves.
    let out = d.path().join("final");
    assert_ok(&run([
        "-o".as_ref(),
        out.join("merged.partial").as_os_str(),
        "--plan".as_ref(),
        run_dir.as_os_str(),
        "--outdir".as_ref(),
        out.as_os_str(),
        inner.as_os_str(),
        p.join("leaf-2.partial").as_os_str(),
        p.join("leaf-4.partial").as_os_str(),
    ]));
    assert_eq!(payload(&out.join("merged.partial")), from_leaves);
    // Leaves and their merged output together are a conflict, not a double count.
    let o = run([
        "-o".as_ref(),
        d.path().join("x.partial").as_os_str(),
        p.as_os_str(),
    ]);
    assert_eq!(code(&o), i32::from(exit::CONFLICT), "{}", stderr(&o));
}
