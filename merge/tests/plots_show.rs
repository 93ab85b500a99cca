//! The PNG plots decode to real images of the asked size with drawn content; `show` and
//! `export` describe and write what a merged partial holds.

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use casa_hist::{Accumulator, Counter, FillArg, HistSpec, Weights};
use common::*;
use serde_json::{json, Value};

fn spec(v: Value) -> HistSpec {
    serde_json::from_value(v).unwrap()
}

/// One partial with a histogram of each plotted kind, and two that are not plotted.
fn plot_partial(dir: &Path) -> PathBuf {
    let mut rng = Rng::new(3);
    let mut acc = Accumulator::new();
    let n = 2000;
    let xs: Vec<f64> = (0..n).map(|_| rng.uniform() * 100.0).collect();
    let ys: Vec<f64> = (0..n).map(|_| rng.uniform()).collect();
    let ws: Vec<f64> = (0..n).map(|_| 0.5 + rng.uniform()).collect();
    let cats: Vec<&str> = (0..n).map(|i| ["ee", "emu", "mumu"][i % 3]).collect();
    let masses: Vec<f64> = (0..n).map(|_| (rng.uniform() * 6.0).exp()).collect();
    acc.hist_mut("DY", "pt", &spec(json!({"axes": [{"type": "regular", "bins": 40, "start": 0.0,
        "stop": 100.0, "name": "pt", "label": "p_T [GeV]"}], "storage": "weight", "label": "events"})))
        .unwrap()
        .fill(&[FillArg::F64(&xs)], Some(Weights::Each(&ws)), None)
        .unwrap();
    acc.hist_mut(
        "DY",
        "mass",
        &spec(
            json!({"axes": [{"type": "regular", "bins": 30, "start": 1.0,
        "stop": 500.0, "transform": {"kind": "log"}, "name": "mass", "label": "m [GeV]"}],
        "storage": "int64"}),
        ),
    )
    .unwrap()
    .fill(&[FillArg::F64(&masses)], None, None)
    .unwrap();
    acc.hist_mut(
        "DY",
        "channel",
        &spec(json!({"axes": [{"type": "str_category",
        "categories": [], "growth": true, "name": "channel"}], "storage": "double"})),
    )
    .unwrap()
    .fill(&[FillArg::Str(&cats)], Some(Weights::Each(&ws)), None)
    .unwrap();
    acc.hist_mut(
        "DY",
        "channel_pt",
        &spec(json!({"axes": [{"type": "str_category",
        "categories": [], "growth": true, "name": "channel"}, {"type": "regular", "bins": 25,
        "start": 0.0, "stop": 100.0, "name": "pt", "label": "p_T [GeV]"}], "storage": "weight"})),
    )
    .unwrap()
    .fill(&[FillArg::Str(&cats), FillArg::F64(&xs)], None, None)
    .unwrap();
    acc.hist_mut(
        "TT",
        "xy",
        &spec(
            json!({"axes": [{"type": "regular", "bins": 20, "start": 0.0,
        "stop": 100.0, "name": "x"}, {"type": "variable", "edges": [0.0, 0.1, 0.3, 0.6, 1.0],
        "name": "y"}], "storage": "int64"}),
        ),
    )
    .unwrap()
    .fill(&[FillArg::F64(&xs), FillArg::F64(&ys)], None, None)
    .unwrap();
    acc.hist_mut("TT", "xyz", &spec(json!({"axes": [
        {"type": "regular", "bins": 3, "start": 0.0, "stop": 1.0, "name": "x"},
        {"type": "regular", "bins": 3, "start": 0.0, "stop": 1.0, "name": "y"},
        {"type": "regular", "bins": 3, "start": 0.0, "stop": 1.0, "name": "z"}], "storage": "int64"})))
        .unwrap();
    acc.hist_mut(
        "TT",
        "empty",
        &spec(json!({"axes": [{"type": "str_category",
        "categories": [], "growth": true, "name": "c"}], "storage": "int64"})),
    )
    .unwrap();
    acc.count("TT", "nevents", Counter::Int(2000)).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join("p.partial");
    // Chunks of both datasets it holds counts of (a merge refuses counts of any other).
    let chunks = vec![
        chunk("DY", "a.root", 0, 1000),
        chunk("TT", "t.root", 0, 1000),
    ];
    write_partial(&p, chunks, &acc);
    p
}

/// Width, height and the set of distinct colours of a PNG file.
fn decode(path: &Path) -> (u32, u32, HashSet<[u8; 3]>) {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb, "{}", path.display());
    let colours = buf[..info.buffer_size()]
        .chunks_exact(3)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width, info.height, colours)
}

#[test]
fn plots_are_real_images_of_every_1d_and_2d_histogram() {
    let d = tempfile::tempdir().unwrap();
    let p = plot_partial(&d.path().join("in"));
    let out = d.path().join("out");
    assert_ok(&run([
        "-o".as_ref(),
        out.join("m.partial").as_os_str(),
        "--outdir".as_ref(),
        out.as_os_str(),
        "--plot-size".as_ref(),
        "640x480".as_ref(),
        p.as_os_str(),
    ]));
    let report: Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let plots = report["plots"].as_array().unwrap();
    assert_eq!(plots.len(), 7, "{plots:?}");
    let mut drawn = 0;
    for pl in plots {
        let name = pl["name"].as_str().unwrap();
        match name {
            "xyz" => assert!(pl["skipped"].as_str().unwrap().contains("3 axes")),
            "empty" => assert!(pl["skipped"].as_str().unwrap().contains("no bins")),
            _ => {
                let path = PathBuf::from(pl["path"].as_str().unwrap());
                assert_eq!(
                    path,
                    out.join("plots")
                        .join(pl["dataset"].as_str().unwrap())
                        .join(format!("{name}.png"))
                );
                let (w, h, colours) = decode(&path);
                assert_eq!((w, h), (640, 480), "{name}");
                assert!(colours.len() > 10, "{name}: {} colours", colours.len());
                drawn += 1;
            }
        }
    }
    assert_eq!(drawn, 5);
    // One line per category, each in its own colour (the first three of the palette).
    let (_, _, colours) = decode(&out.join("plots/DY/channel_pt.png"));
    for c in [[31, 119, 180], [255, 127, 14], [44, 160, 44]] {
        assert!(colours.contains(&c), "no line of colour {c:?}");
    }
    // export --plot draws the same files.
    let again = d.path().join("again");
    assert_ok(&run([
        "export".as_ref(),
        out.join("m.partial").as_os_str(),
        "--plot".as_ref(),
        again.as_os_str(),
        "--plot-size".as_ref(),
        "640x480".as_ref(),
    ]));
    for f in [
        "DY/pt.png",
        "DY/mass.png",
        "DY/channel.png",
        "DY/channel_pt.png",
        "TT/xy.png",
    ] {
        assert_eq!(
            std::fs::read(again.join(f)).unwrap(),
            std::fs::read(out.join("plots").join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn show_describes_histograms_axes_totals_and_counters() {
    let d = tempfile::tempdir().unwrap();
    let p = plot_partial(&d.path().join("in"));
    let o = run(["show".as_ref(), p.as_os_str()]);
    assert_ok(&o);
    let text = String::from_utf8_lossy(&o.stdout);
    for want in [
        "2 chunks, 2000 events",
        "plugin test-plugin",
        "dataset DY",
        "pt \"events\"  weight storage",
        "pt \"p_T [GeV]\": regular 40 bins [0, 100)",
        "mass \"m [GeV]\": regular 30 bins [1, 500), log",
        "channel: str_category 3 bins [ee, emu, mumu] (growth)",
        "y: variable 4 bins edges [0, 0.1, 0.3, 0.6, 1]",
        "nevents = 2000  (counter)",
    ] {
        assert!(text.contains(want), "show lacks {want:?}:\n{text}");
    }
    let o = run(["show".as_ref(), p.as_os_str(), "--json".as_ref()]);
    assert_ok(&o);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let (_, payload) = casa_formats::partial::read(&p).unwrap();
    let acc: Accumulator = serde_json::from_slice(&payload).unwrap();
    let hists = &v["datasets"][0]["histograms"];
    let pt = hists
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "pt")
        .unwrap();
    assert_eq!(pt["sum"], json!(acc.hist("DY", "pt").unwrap().sum(true)));
    assert_eq!(pt["axes"][0]["bins"], json!(40));
    assert_eq!(v["datasets"][1]["counters"], json!([["nevents", 2000]]));
    // A corrupt file is named, with its exit code.
    let mut bytes = std::fs::read(&p).unwrap();
    bytes[40] ^= 1;
    std::fs::write(&p, bytes).unwrap();
    let o = run(["show".as_ref(), p.as_os_str()]);
    assert_eq!(code(&o), i32::from(casa_merge::exit::CORRUPT));
    assert!(stderr(&o).contains(&p.display().to_string()));
}

#[test]
fn export_uhi_equals_the_merge_outputs_histograms_json() {
    let d = tempfile::tempdir().unwrap();
    let p = plot_partial(&d.path().join("in"));
    let out = d.path().join("out");
    assert_ok(&run([
        "--outdir".as_ref(),
        out.as_os_str(),
        "--no-plots".as_ref(),
        p.as_os_str(),
    ]));
    let f = d.path().join("x/h.json");
    assert_ok(&run([
        "export".as_ref(),
        out.join("merged.partial").as_os_str(),
        "--uhi".as_ref(),
        f.as_os_str(),
    ]));
    assert_eq!(
        std::fs::read(&f).unwrap(),
        std::fs::read(out.join("histograms.json")).unwrap()
    );
    let o = run(["export".as_ref(), out.join("merged.partial").as_os_str()]);
    assert_eq!(code(&o), 2, "export needs an output: {}", stderr(&o));
}
