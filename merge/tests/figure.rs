//! `casa-merge plot` against hist + mplhep: Python builds the histograms (an AGC-like
//! region x process x variation x observable histogram with 12 processes, a weighted 1D
//! histogram with a mathtext label, a 2D one), draws them with mplhep, and computes with
//! hist what each plot must show (slices, projections, densities). casa draws the same
//! from the same UHI file, as PNG and SVG, next to mplhep's under
//! `target/tmp/plot-compare/` for a person to look at; the test checks what a machine can:
//! the values drawn, the error bars, the labels rendered (no `$`, no backslash), one colour
//! per category, images of the asked size.

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;
use serde_json::Value;

fn out_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plot-compare");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn reference(dir: &Path) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plot_reference.py");
    let o = casa_test_support::python_command()
        .arg(script)
        .arg(dir)
        .output()
        .expect("run plot_reference.py");
    assert!(
        o.status.success(),
        "plot_reference.py: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn plot(file: &Path, args: &[&str], out: &Path) -> (Output, Value) {
    let mut a: Vec<std::ffi::OsString> = vec!["plot".into(), file.into(), "--json".into()];
    a.extend(args.iter().map(Into::into));
    a.push("-o".into());
    a.push(out.into());
    let o = run(&a);
    let drawn = if o.status.success() {
        serde_json::from_slice(&o.stdout).unwrap()
    } else {
        Value::Null
    };
    (o, drawn)
}

#[track_caller]
fn close(got: &Value, want: &Value, what: &str) {
    let (g, w) = (got.as_array().unwrap(), want.as_array().unwrap());
    assert_eq!(g.len(), w.len(), "{what}: lengths");
    for (i, (a, b)) in g.iter().zip(w).enumerate() {
        let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
        assert!(
            (a - b).abs() <= 1e-9 * a.abs().max(b.abs()) + 1e-12,
            "{what}[{i}]: casa {a}, hist {b}"
        );
    }
}

/// The pixels of a PNG (RGB), checked to be `w` x `h`.
fn pixels(path: &Path, w: u32, h: u32) -> HashSet<[u8; 3]> {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut r = dec.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (w, h), "{}", path.display());
    buf[..info.buffer_size()]
        .chunks(3)
        .map(|c| [c[0], c[1], c[2]])
        .collect()
}

/// The text of every `<text>` element of an SVG.
fn svg_texts(path: &Path) -> Vec<String> {
    let s = std::fs::read_to_string(path).unwrap();
    s.split("<text")
        .skip(1)
        .filter_map(|t| {
            let body = &t[t.find('>')? + 1..];
            Some(
                body[..body.find("</text>")?]
                    .trim_matches('\n')
                    .replace('\u{a0}', " "),
            )
        })
        .collect()
}

#[test]
fn plots_show_what_hist_computes_and_render_labels() {
    let dir = out_dir();
    let want = reference(&dir);
    let file = dir.join("hists.json");

    // The AGC done-when: sliced by region (and variation), stacked by process.
    let agc = [
        "--hist",
        "sum/agc",
        "--slice",
        "region=4j2b",
        "--slice",
        "variation=nominal",
        "--stack",
        "process",
    ];
    for ext in ["png", "svg"] {
        let (o, drawn) = plot(&file, &agc, &dir.join(format!("casa-stack.{ext}")));
        assert_ok(&o);
        assert_eq!(drawn["kind"], "stack");
        assert_eq!(drawn["series"], want["stack"]["series"]);
        for (k, s) in want["stack"]["values"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            close(&drawn["values"][k], s, &format!("stack {k}"));
        }
    }
    let processes = want["stack"]["series"].as_array().unwrap().len();
    assert!(processes > 10, "more categories than tab10 has colours");
    let px = pixels(&dir.join("casa-stack.png"), 800, 600);
    let colours: HashSet<[u8; 3]> = (0..processes)
        .map(|k| {
            let c = casa_merge::figure::palette(k);
            [c.0, c.1, c.2]
        })
        .collect();
    assert_eq!(colours.len(), processes, "one colour per process");
    for c in &colours {
        assert!(px.contains(c), "colour {c:?} of a process is drawn");
    }
    let texts = svg_texts(&dir.join("casa-stack.svg"));
    let all = texts.join("|");
    assert!(!all.contains('$') && !all.contains('\\'), "raw TeX: {all}");
    // m_{bjj} is drawn as "m" then a lowered "bjj", then the unit.
    assert!(
        texts.iter().any(|t| t == "m") && texts.iter().any(|t| t == "bjj"),
        "{all}"
    );
    assert!(texts.iter().any(|t| t.trim() == "[GeV]"), "{all}");
    assert!(texts.iter().any(|t| t == "Events"), "{all}");
    for p in want["stack"]["series"].as_array().unwrap() {
        assert!(texts.iter().any(|t| t == p.as_str().unwrap()), "legend {p}");
    }

    // One category as data: points over the stack of the others.
    let mut with_data = agc.to_vec();
    with_data.extend(["--data", "ttbar"]);
    let (o, drawn) = plot(&file, &with_data, &dir.join("casa-stack-data.png"));
    assert_ok(&o);
    close(&drawn["data"], &want["stack"]["values"][0], "data");
    assert_eq!(
        drawn["series"].as_array().unwrap()[..],
        want["stack"]["series"].as_array().unwrap()[1..]
    );
    let mut bad = agc.to_vec();
    bad.extend(["--data", "nope"]);
    let (o, _) = plot(&file, &bad, &dir.join("x.png"));
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("--data nope: no such category"),
        "{}",
        stderr(&o)
    );

    // A weighted 1D histogram: values and error bars (sqrt of the variances).
    let (o, drawn) = plot(&file, &["--hist", "DY/pt"], &dir.join("casa-pt.svg"));
    assert_ok(&o);
    close(&drawn["values"][0], &want["pt"]["values"][0], "pt");
    assert_eq!(drawn["x_title"], "$p_{T}^{\\mathrm{lead}}$ [GeV]");
    let svg = std::fs::read_to_string(dir.join("casa-pt.svg")).unwrap();
    let bars = svg.matches("<polyline").count();
    assert!(bars >= 40, "an error bar per bin: {bars} polylines");
    let texts = svg_texts(&dir.join("casa-pt.svg"));
    assert!(
        texts.iter().any(|t| t == "lead") && texts.iter().any(|t| t == "T"),
        "{texts:?}"
    );
    let (o, _) = plot(
        &file,
        &["--hist", "DY/pt", "--logy"],
        &dir.join("casa-pt.png"),
    );
    assert_ok(&o);
    pixels(&dir.join("casa-pt.png"), 800, 600);

    // Project: region and variation summed (flow bins too), overlaid by process.
    let (o, drawn) = plot(
        &file,
        &[
            "--hist",
            "sum/agc",
            "--project",
            "observable",
            "--overlay",
            "process",
        ],
        &dir.join("casa-project.png"),
    );
    assert_ok(&o);
    assert_eq!(drawn["kind"], "overlay");
    for (k, s) in want["project"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        close(&drawn["values"][k], s, &format!("project {k}"));
    }

    // Density: each process to unit area, as hist's .density().
    let mut dens = agc.to_vec();
    dens[7] = "process";
    dens[6] = "--overlay";
    dens.push("--density");
    let (o, drawn) = plot(&file, &dens, &dir.join("casa-density.png"));
    assert_ok(&o);
    for (k, s) in want["density"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        close(&drawn["values"][k], s, &format!("density {k}"));
    }

    // Two numeric axes: a colour map of the values.
    let (o, drawn) = plot(
        &file,
        &["--hist", "DY/eta_phi", "--size", "640x480"],
        &dir.join("casa-map.png"),
    );
    assert_ok(&o);
    let flat: Vec<Value> = want["map"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap().clone())
        .collect();
    close(&drawn["values"][0], &Value::Array(flat), "map");
    pixels(&dir.join("casa-map.png"), 640, 480);
}

#[test]
fn plot_requests_that_cannot_be_drawn_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let _ = reference(dir.path());
    let file = dir.path().join("hists.json");
    let out = dir.path().join("x.png");
    let cases: [(&[&str], &str); 6] = [
        (
            &["--hist", "sum/agc"],
            "4 axes left (region, process, variation, observable)",
        ),
        (&[], "3 histograms, say which with --hist"),
        (&["--hist", "nope"], "no histogram `nope`"),
        (
            &["--hist", "sum/agc", "--slice", "region=4j3b"],
            "no such category (categories: 4j1b, 4j2b)",
        ),
        (
            &["--hist", "DY/pt", "--slice", "pt=900"],
            "outside [0, 200)",
        ),
        (&["--hist", "DY/pt", "--stack", "pt"], "not a category axis"),
    ];
    for (args, msg) in cases {
        let (o, _) = plot(&file, args, &out);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(msg), "{args:?}: {}", stderr(&o));
    }
    let (o, _) = plot(&file, &["--hist", "DY/pt"], &dir.path().join("x.pdf"));
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains(".png or .svg"), "{}", stderr(&o));
    assert!(!out.exists(), "nothing written");
}
