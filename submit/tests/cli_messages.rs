//! Snapshots of what the CLI tells a user: stderr, `--json` stdout and the exit code of the
//! commands a new user runs first, right and wrong, with paths and times redacted (as uv and
//! nextest snapshot their CLIs). A message that changes shows up as a diff to review;
//! regenerate with `CASA_UPDATE_SNAPSHOTS=1 cargo nextest run -p casa-submit -E 'binary(cli_messages)'`.

use std::path::{Path, PathBuf};
use std::process::Command;

use casa_test_support::{build_bin, build_cdylib, fixture, workspace};

fn bin(package: &str) -> PathBuf {
    build_bin(package, Path::new(env!("CARGO_BIN_EXE_casa-submit")))
}

fn casa_submit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_casa-submit"))
}

/// Decimal numbers with a fraction (seconds, rates) become `[T]`: they change run to run.
fn redact_times(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let starts_number =
            chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_alphanumeric());
        if starts_number {
            let mut j = i;
            while j < chars.len() && chars[j].is_ascii_digit() {
                j += 1;
            }
            if j + 1 < chars.len() && chars[j] == '.' && chars[j + 1].is_ascii_digit() {
                j += 1;
                while j < chars.len() && chars[j].is_ascii_digit() {
                    j += 1;
                }
                out.push_str("[T]");
                i = j;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// `12345 events/s` becomes `[N] events/s` (`0 events/s` stays: nothing ran).
fn redact_rates(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let words: Vec<&str> = text.split(' ').collect();
    for (i, w) in words.iter().enumerate() {
        let rate = words.get(i + 1).is_some_and(|n| n.starts_with("events/s"));
        let number = !w.is_empty() && w.chars().all(|c| c.is_ascii_digit());
        out.push(if rate && number && *w != "0" {
            "[N]".into()
        } else {
            w.to_string()
        });
    }
    out.join(" ")
}

/// A session of commands and what each printed, redacted, compared with
/// `snapshots/cli/<name>.txt`.
struct Session {
    name: &'static str,
    redactions: Vec<(String, String)>,
    text: String,
}

impl Session {
    fn new(name: &'static str, tmp: &Path) -> Session {
        let mut redactions = vec![
            (tmp.display().to_string(), "[TMP]".to_string()),
            (
                fixture("root-zstd.root")
                    .parent()
                    .unwrap()
                    .display()
                    .to_string(),
                "[FIXTURES]".to_string(),
            ),
            (workspace().display().to_string(), "[WS]".to_string()),
        ];
        // The longest first, so a path inside another is redacted as the outer one.
        redactions.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
        Session {
            name,
            redactions,
            text: String::new(),
        }
    }

    fn redact(&self, text: &str) -> String {
        let mut t = text.to_string();
        for (from, to) in &self.redactions {
            t = t.replace(from.as_str(), to);
        }
        redact_rates(&redact_times(&t))
    }

    /// Run `cmd` (shown as `shown`), record its code and output; return the code.
    fn run(&mut self, shown: &str, cmd: &mut Command) -> i32 {
        let o = cmd.env("NO_COLOR", "1").output().unwrap();
        let code = o.status.code().unwrap_or(-1);
        let out = self.redact(&String::from_utf8_lossy(&o.stdout));
        let err = self.redact(&String::from_utf8_lossy(&o.stderr));
        self.text.push_str(&format!(
            "$ {shown}\nexit {code}\n--- stdout\n{out}--- stderr\n{err}\n"
        ));
        code
    }

    fn check(self) {
        let snap = workspace()
            .join("submit/tests/snapshots/cli")
            .join(format!("{}.txt", self.name));
        if std::env::var_os("CASA_UPDATE_SNAPSHOTS").is_some() {
            std::fs::create_dir_all(snap.parent().unwrap()).unwrap();
            std::fs::write(&snap, &self.text).unwrap();
            return;
        }
        let want = std::fs::read_to_string(&snap).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (CASA_UPDATE_SNAPSHOTS=1 writes it)",
                snap.display()
            )
        });
        assert!(
            want == self.text,
            "{} differs from what the commands print now:\n{}\n(CASA_UPDATE_SNAPSHOTS=1 rewrites it; review the diff)",
            snap.display(),
            self.text
        );
    }
}

fn write(path: &Path, text: &str) -> PathBuf {
    std::fs::write(path, text).unwrap();
    path.to_path_buf()
}

/// Filesets a user writes by hand, with the mistakes users make: each error says what is wrong
/// once, names the file and the dataset, and suggests the fix.
#[test]
fn fileset_mistakes() {
    let d = tempfile::tempdir().unwrap();
    let mut s = Session::new("fileset_mistakes", d.path());
    let f = fixture("root-zstd.root");
    let f = f.to_str().unwrap();
    let out = d.path().join("pre.json");

    let comma = write(
        &d.path().join("comma.json"),
        // A fixed path: the syntax error's column must not depend on where the checkout is.
        "{\"ZZ\": {\"files\": {\"data/zz.root\": \"Events\"},}}",
    );
    let code = s.run(
        "casa-submit preprocess comma.json -o pre.json",
        casa_submit()
            .arg("preprocess")
            .arg(&comma)
            .arg("-o")
            .arg(&out),
    );
    assert_eq!(code, 1);
    let code = s.run(
        "casa-submit preprocess comma.json -o pre.json --json",
        casa_submit()
            .arg("preprocess")
            .arg(&comma)
            .arg("-o")
            .arg(&out)
            .arg("--json"),
    );
    assert_eq!(code, 1);

    let typo = write(
        &d.path().join("typo.json"),
        &format!(
            "{{\"ZZ\": {{\"files\": {{\"{f}\": \"Events\"}}, \"metdata\": {{\"is_mc\": true}}}}}}"
        ),
    );
    let code = s.run(
        "casa-submit preprocess typo.json -o pre.json",
        casa_submit()
            .arg("preprocess")
            .arg(&typo)
            .arg("-o")
            .arg(&out),
    );
    assert_eq!(code, 1);
    let code = s.run(
        "casa-submit plan typo.json --plugin x.so -o run --json",
        casa_submit()
            .arg("plan")
            .arg(&typo)
            .args(["--plugin", "x.so", "-o"])
            .arg(d.path().join("run"))
            .arg("--json"),
    );
    assert_eq!(code, 1);
    assert!(!d.path().join("run").exists());

    let good = write(
        &d.path().join("good.json"),
        &format!(
            "{{\"ZZ\": {{\"files\": {{\"{f}\": \"Events\"}}, \"metadata\": {{\"is_mc\": true}}}}}}"
        ),
    );
    let code = s.run(
        "casa-submit preprocess good.json -o pre.json",
        casa_submit()
            .arg("preprocess")
            .arg(&good)
            .arg("-o")
            .arg(&out)
            .args(["--step-size", "5000"]),
    );
    assert_eq!(code, 0);
    let code = s.run(
        "casa-submit preprocess good.json -o pre.json -q",
        casa_submit()
            .arg("preprocess")
            .arg(&good)
            .arg("-o")
            .arg(&out)
            .args(["--step-size", "5000", "-q"]),
    );
    assert_eq!(code, 0);

    // A tree named wrong: the trees there, each name once (the file has two cycles of it).
    let code = s.run(
        "casa-wrapper inspect root-zstd.root --tree Event",
        Command::new(bin("casa-wrapper"))
            .arg("inspect")
            .arg(f)
            .args(["--tree", "Event"]),
    );
    assert_eq!(code, 1);

    let code = s.run(
        "casa-submit preprocess good.json --json",
        casa_submit().arg("preprocess").arg(&good).arg("--json"),
    );
    assert_eq!(code, 2);
    let code = s.run(
        "casa-submit status no-such-run --json",
        casa_submit()
            .arg("status")
            .arg(d.path().join("no-such-run"))
            .arg("--json"),
    );
    assert_eq!(code, 1);
    let code = s.run(
        "casa-submit new-plugin [TMP]/my-analysis",
        casa_submit()
            .arg("new-plugin")
            .arg(d.path().join("my-analysis")),
    );
    assert_eq!(code, 2);
    s.check();
}

/// A run from plan to status: `plan -q`, `status` before anything ran (every dataset listed,
/// exit 4), a node that fails (named once; exit 3), and `status` after.
#[test]
fn a_failing_run_and_its_status() {
    let d = tempfile::tempdir().unwrap();
    let mut s = Session::new("failing_run", d.path());
    let f = fixture("root-zstd.root");
    let fileset = write(
        &d.path().join("fileset.json"),
        &serde_json::json!({
            "ZZ": {"files": {f.to_str().unwrap(): "Events"}, "metadata": {"is_mc": true}},
            "DY": {"files": {fixture("root-lz4.root").to_str().unwrap(): "Events"}}
        })
        .to_string(),
    );
    let run = d.path().join("run");
    let plan = |extra: &[&str]| {
        let mut c = casa_submit();
        c.arg("plan")
            .arg(&fileset)
            .arg("--plugin")
            .arg(build_cdylib("misbehave"))
            .arg("--wrapper")
            .arg(bin("casa-wrapper"))
            .arg("--merge")
            .arg(bin("casa-merge"))
            .arg("-o")
            .arg(&run)
            .args(["--events-per-job", "1000000", "--step-size", "100000"])
            .args(extra);
        c
    };
    let code = s.run(
        "casa-submit plan fileset.json ... -o run -q",
        &mut plan(&["-q"]),
    );
    assert_eq!(code, 0);
    let code = s.run(
        "casa-submit status run",
        casa_submit().arg("status").arg(&run),
    );
    assert_eq!(code, 4);
    let code = s.run(
        "casa-submit status run --json",
        casa_submit().arg("status").arg(&run).arg("--json"),
    );
    assert_eq!(code, 4);
    let code = s.run(
        "CASA_TEST_MODE=error casa-submit run run -q -j 1",
        casa_submit()
            .arg("run")
            .arg(&run)
            .args(["-q", "-j", "1"])
            .env("CASA_TEST_MODE", "error"),
    );
    assert_eq!(code, 1);
    let code = s.run(
        "casa-submit status run",
        casa_submit().arg("status").arg(&run),
    );
    assert_eq!(code, 3);
    let code = s.run(
        "casa-submit resubmit run",
        casa_submit().arg("resubmit").arg(&run),
    );
    assert_eq!(code, 0);
    let code = s.run(
        "casa-submit run run -q -j 1",
        casa_submit().arg("run").arg(&run).args(["-q", "-j", "1"]),
    );
    assert_eq!(code, 0);
    let code = s.run(
        "casa-submit status run",
        casa_submit().arg("status").arg(&run),
    );
    assert_eq!(code, 0);
    s.check();
}
