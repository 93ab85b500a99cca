//! `casa-submit run`: execute a run directory's DAG on this machine with DAGMan's semantics
//! for what casa generates — node dependencies, RETRY with UNLESS-EXIT, POST scripts with
//! their macros, VARS substituted into the submit files, MAXJOBS per category — reading the
//! same casa.dag and .sub files HTCondor would, so a local run tests the grid files.
//!
//! Vanilla-universe jobs run in a scratch sandbox with their `transfer_input_files` linked in
//! and their `transfer_output_files` moved to `initialdir` afterwards, as HTCondor's file
//! transfer does; local-universe jobs run in `initialdir`. Every node's state is kept in
//! `state/<node>.json`; running again after Ctrl-C, SIGKILL or a reboot skips the nodes whose
//! state says done and whose outputs still verify.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::IsTerminal;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use casa_formats::{partial, Attempt, AttemptExit, NodeState, NodeStatus};

/// One DAG node.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub submit: String,
    pub vars: Vec<(String, String)>,
    pub retry: u32,
    pub unless_exit: Option<i32>,
    pub pre: Option<String>,
    pub post: Option<String>,
    pub category: Option<String>,
    pub parents: Vec<usize>,
    pub children: Vec<usize>,
}

/// The subset of DAGMan's language casa writes.
#[derive(Debug, Clone, Default)]
pub struct Dag {
    pub nodes: Vec<Node>,
    pub index: HashMap<String, usize>,
    pub maxjobs: HashMap<String, usize>,
}

fn parse_vars(rest: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut s = rest.trim();
    while !s.is_empty() {
        let eq = s.find('=').ok_or("VARS pair without '='")?;
        let name = s[..eq].trim().to_string();
        let r = s[eq + 1..]
            .trim_start()
            .strip_prefix('"')
            .ok_or("VARS value must be quoted")?;
        let mut value = String::new();
        let mut chars = r.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, n)) = chars.next() {
                        value.push(n);
                    }
                }
                '"' => {
                    end = Some(i);
                    break;
                }
                c => value.push(c),
            }
        }
        let end = end.ok_or("VARS value not closed")?;
        out.push((name, value));
        s = r[end + 1..].trim_start();
    }
    Ok(out)
}

impl Dag {
    pub fn parse(text: &str) -> Result<Dag, String> {
        let mut dag = Dag::default();
        let mut edges = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let at = |what: &str| format!("casa.dag line {}: {what}", i + 1);
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            let node_of = |dag: &Dag, name: &str| {
                dag.index
                    .get(name)
                    .copied()
                    .ok_or_else(|| at(&format!("unknown node {name}")))
            };
            match words[0].to_ascii_uppercase().replace('_', "-").as_str() {
                "JOB" if words.len() >= 3 => {
                    if dag.index.contains_key(words[1]) {
                        return Err(at(&format!("node {} defined twice", words[1])));
                    }
                    dag.index.insert(words[1].into(), dag.nodes.len());
                    dag.nodes.push(Node {
                        name: words[1].into(),
                        submit: words[2].into(),
                        vars: Vec::new(),
                        retry: 0,
                        unless_exit: None,
                        pre: None,
                        post: None,
                        category: None,
                        parents: Vec::new(),
                        children: Vec::new(),
                    });
                }
                "VARS" if words.len() >= 3 => {
                    let n = node_of(&dag, words[1])?;
                    let rest = line.splitn(3, char::is_whitespace).nth(2).unwrap_or("");
                    dag.nodes[n]
                        .vars
                        .extend(parse_vars(rest).map_err(|e| at(&e))?);
                }
                "RETRY" if words.len() >= 3 => {
                    let n = node_of(&dag, words[1])?;
                    dag.nodes[n].retry = words[2].parse().map_err(|_| at("bad RETRY count"))?;
                    if words.len() >= 5 && words[3].eq_ignore_ascii_case("UNLESS-EXIT") {
                        dag.nodes[n].unless_exit =
                            Some(words[4].parse().map_err(|_| at("bad UNLESS-EXIT"))?);
                    }
                }
                "SCRIPT"
                    if words.len() >= 4
                        && (words[1].eq_ignore_ascii_case("POST")
                            || words[1].eq_ignore_ascii_case("PRE")) =>
                {
                    let n = node_of(&dag, words[2])?;
                    let cmd = line
                        .splitn(4, char::is_whitespace)
                        .nth(3)
                        .unwrap_or("")
                        .trim()
                        .to_string();
                    if words[1].eq_ignore_ascii_case("PRE") {
                        dag.nodes[n].pre = Some(cmd);
                    } else {
                        dag.nodes[n].post = Some(cmd);
                    }
                }
                "CATEGORY" if words.len() == 3 => {
                    let n = node_of(&dag, words[1])?;
                    dag.nodes[n].category = Some(words[2].into());
                }
                "MAXJOBS" if words.len() == 3 => {
                    dag.maxjobs.insert(
                        words[1].into(),
                        words[2].parse().map_err(|_| at("bad MAXJOBS"))?,
                    );
                }
                "PARENT" => {
                    let c = words
                        .iter()
                        .position(|w| w.eq_ignore_ascii_case("CHILD"))
                        .ok_or_else(|| at("PARENT without CHILD"))?;
                    for p in &words[1..c] {
                        for ch in &words[c + 1..] {
                            edges.push((node_of(&dag, p)?, node_of(&dag, ch)?));
                        }
                    }
                }
                "NODE-STATUS-FILE" | "JOBSTATE-LOG" | "DOT" | "CONFIG" | "PRIORITY" => {}
                other => {
                    return Err(at(&format!(
                        "{other}: not something casa writes or this runner supports"
                    )))
                }
            }
        }
        for (p, c) in edges {
            dag.nodes[p].children.push(c);
            dag.nodes[c].parents.push(p);
        }
        Ok(dag)
    }
}

/// A submit file as `key = value` pairs (commands are case-insensitive).
pub fn parse_submit(text: &str) -> HashMap<String, String> {
    let mut m = HashMap::new();
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.eq_ignore_ascii_case("queue") {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            m.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    m
}

/// The job's `environment` in HTCondor's new syntax (`"A=1 B='two words'"`), as pairs.
/// The runner passes its own environment on too, as `getenv = true` would.
pub fn parse_environment(value: &str) -> Vec<(String, String)> {
    let v = value.trim();
    let v = v
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(v);
    let mut out = Vec::new();
    let mut rest = v.trim_start();
    while let Some((name, after)) = rest.split_once('=') {
        let (val, next) = match after.strip_prefix('\'') {
            Some(q) => match q.split_once('\'') {
                Some((val, next)) => (val, next),
                None => (q, ""),
            },
            None => after.split_once(char::is_whitespace).unwrap_or((after, "")),
        };
        out.push((name.trim().to_string(), val.to_string()));
        rest = next.trim_start();
    }
    out
}

/// Substitute `$(name)` macros from the node's VARS (and `JOB`).
pub fn expand(value: &str, vars: &[(String, String)], node: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(i) = rest.find("$(") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        match after.find(')') {
            Some(j) => {
                let name = &after[..j];
                let v = if name.eq_ignore_ascii_case("JOB") {
                    Some(node.to_string())
                } else {
                    vars.iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(name))
                        .map(|(_, v)| v.clone())
                };
                match v {
                    Some(v) => out.push_str(&v),
                    None => out.push_str(&rest[i..i + 3 + j]),
                }
                rest = &after[j + 1..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Signal a job's process group. Never a group id below 2: `killpg(1)` or a negative pid
/// would reach every process on the machine.
fn kill_group(pgid: u32, sig: nix::sys::signal::Signal) {
    if pgid > 1 && pgid <= i32::MAX as u32 {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid as i32), sig);
    }
}

/// Options of a local run.
#[derive(Debug, Clone)]
pub struct LocalRunOptions {
    pub jobs: usize,
    pub progress: bool,
}

/// How a run ended.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LocalRunReport {
    pub done: usize,
    pub skipped: usize,
    pub failed: Vec<(String, String)>,
    pub not_run: usize,
    pub reused: usize,
    pub attempts: usize,
    pub events: u64,
    pub wall_s: f64,
    pub interrupted: bool,
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn state_path(rundir: &Path, node: &str) -> PathBuf {
    rundir.join("state").join(format!("{node}.json"))
}

/// Where a done node's output is, to check it still verifies before skipping it.
fn output_of(rundir: &Path, node: &str) -> PathBuf {
    if node == "merge-final" {
        rundir.join("result").join("merged.partial")
    } else {
        rundir.join("partials").join(format!("{node}.partial"))
    }
}

struct Outcome {
    node: usize,
    exit: i32,
    post_exit: Option<i32>,
    message: String,
    started: f64,
}

/// Run one attempt of a node: the job, then its POST script.
fn attempt(
    rundir: &Path,
    node: &Node,
    attempt: u32,
    children: &Arc<Mutex<Vec<u32>>>,
    pid_state: Option<(NodeState, PathBuf)>,
) -> (i32, Option<i32>, String) {
    let fail = |msg: String| (-1, None, msg);
    if let Some(cmd) = &node.pre {
        // DAGMan: a failing PRE script fails the attempt without running the job.
        let cmd = cmd
            .replace("$JOB", &node.name)
            .replace("$RETRY", &attempt.to_string());
        let words: Vec<&str> = cmd.split_whitespace().collect();
        match Command::new(words[0])
            .args(&words[1..])
            .current_dir(rundir)
            .stdin(Stdio::null())
            .output()
        {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                return fail(format!(
                    "PRE script failed: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ))
            }
            Err(e) => return fail(format!("PRE script {}: {e}", words[0])),
        }
    }
    let sub_path = rundir.join(&node.submit);
    let text = match std::fs::read_to_string(&sub_path) {
        Ok(t) => t,
        Err(e) => return fail(format!("{}: {e}", sub_path.display())),
    };
    let sub = parse_submit(&text);
    let get = |k: &str| {
        sub.get(k)
            .map(|v| expand(v, &node.vars, &node.name))
            .unwrap_or_default()
    };
    let universe = get("universe");
    let exe = get("executable");
    let args: Vec<String> = get("arguments")
        .split_whitespace()
        .map(String::from)
        .collect();
    let initialdir = match get("initialdir") {
        s if s.is_empty() => rundir.to_path_buf(),
        s => rundir.join(s),
    };
    let open = |k: &str| -> std::io::Result<Stdio> {
        match get(k) {
            s if s.is_empty() => Ok(Stdio::null()),
            s => Ok(File::create(initialdir.join(s))?.into()),
        }
    };
    if let Err(e) = std::fs::create_dir_all(&initialdir) {
        return fail(format!("{}: {e}", initialdir.display()));
    }
    let (stdout, stderr) = match (open("output"), open("error")) {
        (Ok(o), Ok(e)) => (o, e),
        (Err(e), _) | (_, Err(e)) => return fail(format!("job output files: {e}")),
    };
    let sandbox = initialdir.join(format!(".casa-sandbox-{attempt}"));
    let cwd = if universe == "local" {
        initialdir.clone()
    } else {
        let _ = std::fs::remove_dir_all(&sandbox);
        if let Err(e) = std::fs::create_dir_all(&sandbox) {
            return fail(format!("{}: {e}", sandbox.display()));
        }
        for input in get("transfer_input_files")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let src = initialdir.join(input);
            let Some(name) = src.file_name() else {
                continue;
            };
            if let Err(e) = std::os::unix::fs::symlink(&src, sandbox.join(name)) {
                return fail(format!("input {input}: {e}"));
            }
        }
        sandbox.clone()
    };
    let started = Instant::now();
    let child = Command::new(initialdir.join(&exe))
        .args(&args)
        .envs(parse_environment(&get("environment")))
        .current_dir(&cwd)
        .stdout(stdout)
        .stderr(stderr)
        .stdin(Stdio::null())
        .process_group(0)
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return fail(format!("cannot start {exe}: {e}")),
    };
    children.lock().expect("children lock").push(child.id());
    if let Some(state) = pid_state {
        let mut st = state.0.clone();
        st.pgid = Some(child.id());
        let _ = st.write(&state.1);
    }
    let status = child.wait();
    children
        .lock()
        .expect("children lock")
        .retain(|&p| p != child.id());
    let exit = match status {
        Ok(s) => s
            .code()
            .unwrap_or_else(|| -(std::os::unix::process::ExitStatusExt::signal(&s).unwrap_or(1))),
        Err(e) => return fail(format!("waiting for {exe}: {e}")),
    };
    if universe != "local" {
        for out in get("transfer_output_files")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let (src, dst) = (sandbox.join(out), initialdir.join(out));
            if src.exists() {
                let _ = std::fs::remove_dir_all(&dst);
                let _ = std::fs::remove_file(&dst);
                if let Err(e) = std::fs::rename(&src, &dst) {
                    return fail(format!("returning {out}: {e}"));
                }
            }
        }
        let _ = std::fs::remove_dir_all(&sandbox);
    }
    let mut message = format!("exit {exit} after {:.1} s", started.elapsed().as_secs_f64());
    let post_exit = node.post.as_ref().map(|cmd| {
        let cmd = cmd
            .replace("$JOB", &node.name)
            .replace("$RETURN", &exit.to_string())
            .replace("$RETRY", &attempt.to_string())
            .replace("$MAX_RETRIES", &node.retry.to_string());
        let words: Vec<&str> = cmd.split_whitespace().collect();
        match Command::new(words[0])
            .args(&words[1..])
            .current_dir(rundir)
            .stdin(Stdio::null())
            .output()
        {
            Ok(o) => {
                let text = String::from_utf8_lossy(&o.stderr);
                if let Some(l) = text.lines().last() {
                    message = l.trim_start_matches("casa-submit post: ").to_string();
                }
                o.status.code().unwrap_or(1)
            }
            Err(e) => {
                message = format!("POST script {}: {e}", words[0]);
                1
            }
        }
    });
    (exit, post_exit, message)
}

/// Run the DAG in `rundir`.
pub fn run(
    rundir: &Path,
    opts: &LocalRunOptions,
    stop: &AtomicBool,
) -> Result<LocalRunReport, String> {
    let t0 = Instant::now();
    let dag_text = std::fs::read_to_string(rundir.join("casa.dag"))
        .map_err(|e| format!("{}: {e}", rundir.join("casa.dag").display()))?;
    let dag = Dag::parse(&dag_text)?;
    let n = dag.nodes.len();
    let mut status = vec![NodeStatus::Pending; n];
    // Nodes done or skipped, and failed: kept as they change, for the progress line (counting
    // them there would cost O(nodes) per finished attempt).
    let (mut finished, mut failed) = (0usize, 0usize);
    let mut states: Vec<NodeState> = Vec::with_capacity(n);
    let mut report = LocalRunReport {
        done: 0,
        skipped: 0,
        failed: Vec::new(),
        not_run: 0,
        reused: 0,
        attempts: 0,
        events: 0,
        wall_s: 0.0,
        interrupted: false,
    };
    std::fs::create_dir_all(rundir.join("state")).map_err(|e| e.to_string())?;
    for (i, node) in dag.nodes.iter().enumerate() {
        let p = state_path(rundir, &node.name);
        let mut s = NodeState::read(&p)
            .map_err(|e| e.to_string())?
            .unwrap_or_else(|| NodeState::new(&node.name));
        // Done only counts if the output is still there and whole.
        if s.status == NodeStatus::Done {
            match partial::read(&output_of(rundir, &node.name)) {
                Ok(_) => {
                    status[i] = NodeStatus::Done;
                    report.reused += 1;
                    finished += 1;
                }
                Err(e) => {
                    s.status = NodeStatus::Pending;
                    s.message = format!("was done, but {e}: running it again");
                }
            }
        } else if s.status == NodeStatus::Skipped {
            status[i] = NodeStatus::Skipped;
            finished += 1;
        } else {
            if let Some(pgid) = s.pgid.take() {
                // A runner killed mid-attempt leaves its job running: stop it before the node
                // runs again, so two attempts never write the same outputs. Process ids are
                // reused, so only a group whose leader still works in this run directory is
                // ours to kill.
                let cwd = std::fs::read_link(format!("/proc/{pgid}/cwd")).ok();
                let ours = cwd.is_some_and(|c| {
                    c.starts_with(rundir)
                        || std::fs::canonicalize(rundir).is_ok_and(|r| c.starts_with(r))
                });
                if ours {
                    kill_group(pgid, nix::sys::signal::Signal::SIGKILL);
                }
            }
            s.status = NodeStatus::Pending;
        }
        if s.events_expected == 0 && node.name.starts_with("leaf-") {
            if let Ok(spec) = casa_formats::JobSpec::read(
                &rundir.join("jobs").join(format!("{}.json", node.name)),
            ) {
                s.events_expected = spec.entries();
            }
        }
        states.push(s);
    }
    let children: Arc<Mutex<Vec<u32>>> = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel::<Outcome>();
    let mut running: HashMap<usize, u32> = HashMap::new();
    let mut retries = vec![0u32; n];
    let mut per_cat: HashMap<String, usize> = HashMap::new();
    let ready = |status: &[NodeStatus], i: usize| -> bool {
        status[i] == NodeStatus::Pending
            && dag.nodes[i]
                .parents
                .iter()
                .all(|&p| matches!(status[p], NodeStatus::Done | NodeStatus::Skipped))
    };
    let mut queue: VecDeque<usize> = (0..n).filter(|&i| ready(&status, i)).collect();
    let tty = opts.progress && std::io::stderr().is_terminal();
    let rundir_buf = rundir.to_path_buf();
    loop {
        if stop.load(Ordering::Relaxed) {
            report.interrupted = true;
            for &pid in children.lock().expect("children lock").iter() {
                // The job's whole process group.
                kill_group(pid, nix::sys::signal::Signal::SIGTERM);
            }
        }
        while !report.interrupted && running.len() < opts.jobs.max(1) {
            let Some(pos) = queue.iter().position(|&i| {
                dag.nodes[i].category.as_ref().is_none_or(|c| {
                    per_cat.get(c).copied().unwrap_or(0)
                        < dag.maxjobs.get(c).copied().unwrap_or(usize::MAX)
                })
            }) else {
                break;
            };
            let i = queue.remove(pos).expect("position is valid");
            if let Some(c) = &dag.nodes[i].category {
                *per_cat.entry(c.clone()).or_default() += 1;
            }
            status[i] = NodeStatus::Running;
            states[i].status = NodeStatus::Running;
            states[i]
                .write(&state_path(rundir, &dag.nodes[i].name))
                .map_err(|e| e.to_string())?;
            running.insert(i, retries[i]);
            let (tx, node, dir, kids, a) = (
                tx.clone(),
                dag.nodes[i].clone(),
                rundir_buf.clone(),
                children.clone(),
                retries[i],
            );
            let pid_state = Some((states[i].clone(), state_path(rundir, &dag.nodes[i].name)));
            std::thread::spawn(move || {
                let started = now();
                let (exit, post_exit, message) = attempt(&dir, &node, a, &kids, pid_state);
                let _ = tx.send(Outcome {
                    node: i,
                    exit,
                    post_exit,
                    message,
                    started,
                });
            });
        }
        if running.is_empty() {
            break;
        }
        let Ok(o) = rx.recv() else { break };
        let i = o.node;
        running.remove(&i);
        report.attempts += 1;
        if let Some(c) = &dag.nodes[i].category {
            *per_cat.entry(c.clone()).or_default() -= 1;
        }
        let node = &dag.nodes[i];
        let decided = o.post_exit.unwrap_or(o.exit);
        states[i].attempts.push(Attempt {
            started_unix: o.started,
            ended_unix: now(),
            host: "local".into(),
            exit_code: o.exit,
            exit_class: AttemptExit::from_code(o.exit),
            post_exit: o.post_exit,
            message: o.message.clone(),
        });
        states[i].message = o.message.clone();
        let skipped = rundir
            .join("state")
            .join(format!("{}.skipped.json", node.name))
            .exists();
        if report.interrupted && decided != 0 {
            states[i].status = NodeStatus::Pending;
            status[i] = NodeStatus::Pending;
        } else if decided == 0 {
            status[i] = if skipped {
                NodeStatus::Skipped
            } else {
                NodeStatus::Done
            };
            finished += 1;
            states[i].status = status[i];
            if let Ok((h, _)) = partial::read(&output_of(rundir, &node.name)) {
                states[i].events_done = h.events;
                states[i].partial_checksum =
                    partial::stored_checksum(&output_of(rundir, &node.name));
                if node.name.starts_with("leaf-") {
                    report.events += h.events;
                }
            }
            for &c in &node.children {
                if ready(&status, c) {
                    queue.push_back(c);
                }
            }
        } else if Some(decided) != node.unless_exit && retries[i] < node.retry {
            retries[i] += 1;
            status[i] = NodeStatus::Pending;
            states[i].status = NodeStatus::Pending;
            queue.push_back(i);
        } else {
            status[i] = NodeStatus::Failed;
            states[i].status = NodeStatus::Failed;
            failed += 1;
        }
        states[i]
            .write(&state_path(rundir, &node.name))
            .map_err(|e| e.to_string())?;
        let elapsed = t0.elapsed().as_secs_f64();
        let fresh = finished.saturating_sub(report.reused);
        let eta = if fresh > 0 {
            format!(
                ", ETA {:.0} s",
                elapsed / fresh as f64 * (n - finished) as f64
            )
        } else {
            String::new()
        };
        let line = format!(
            "[{}/{} done, {} running, {} failed, {:.0} events/s{eta}] {} {} ({})",
            finished,
            n,
            running.len(),
            failed,
            report.events as f64 / elapsed.max(1e-9),
            node.name,
            match status[i] {
                NodeStatus::Done => "done",
                NodeStatus::Skipped => "skipped",
                NodeStatus::Failed => "FAILED",
                _ => "retrying",
            },
            o.message
        );
        if tty {
            eprint!("\r\x1b[2K{line}");
        } else if opts.progress || status[i] == NodeStatus::Failed {
            eprintln!("{line}");
        }
    }
    if tty {
        eprintln!();
    }
    for (i, s) in status.iter().enumerate() {
        match s {
            NodeStatus::Done => report.done += 1,
            NodeStatus::Skipped => report.skipped += 1,
            NodeStatus::Failed => report
                .failed
                .push((dag.nodes[i].name.clone(), states[i].message.clone())),
            _ => report.not_run += 1,
        }
    }
    report.wall_s = t0.elapsed().as_secs_f64();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_environment_new_syntax() {
        let env = parse_environment(r#""CASA_XCACHE=root://127.0.0.1:1094 B='two words' C=""#);
        let want = [
            ("CASA_XCACHE", "root://127.0.0.1:1094"),
            ("B", "two words"),
            ("C", ""),
        ];
        assert_eq!(env.len(), want.len());
        for ((k, v), (wk, wv)) in env.iter().zip(want) {
            assert_eq!((k.as_str(), v.as_str()), (wk, wv));
        }
        assert!(parse_environment("").is_empty());
    }

    #[test]
    fn parses_what_plan_writes() {
        let dag = Dag::parse(
            "JOB a leaf.sub\nVARS a node=\"a\" args=\"-o x \\\"y\\\"\"\nRETRY a 3 UNLESS-EXIT 42\nSCRIPT POST a /bin/p post $JOB $RETURN\n\
             JOB m merge.sub\nCATEGORY m merge\nPARENT a CHILD m\nMAXJOBS merge 2\nNODE_STATUS_FILE s 30\n",
        )
        .unwrap();
        assert_eq!(dag.nodes[0].vars[1], ("args".into(), "-o x \"y\"".into()));
        assert_eq!(dag.nodes[0].unless_exit, Some(42));
        assert_eq!(dag.nodes[1].parents, vec![0]);
        assert_eq!(dag.maxjobs["merge"], 2);
        assert_eq!(
            expand(
                "--job $(node).json $(JOB) $(other)",
                &dag.nodes[0].vars,
                "a"
            ),
            "--job a.json a $(other)"
        );
    }
}
