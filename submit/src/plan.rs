//! `casa-submit plan`: turn a preprocessed fileset and a plugin into a self-describing run
//! directory that `condor_submit_dag` (or `casa-submit run`) executes. The layout is
//! [`casa_run::RunDir`]'s; the DAG is [`casa_run::CasaDag`]'s.
//!
//! Only node names and paths checked by [`check_path`] are written into HTCondor files;
//! dataset names, file paths and metadata go only into JSON job specs, so they can hold any
//! character without breaking (or altering) a submit or DAG file.

use std::path::{Path, PathBuf};

use casa_formats::fsutil::atomic_write;
use casa_formats::{Chunk, Fileset, JobSpec, SkippedFile};
use casa_run::{CasaDag, NodeName, RunDir, RunId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The exit code the POST script gives for a permanent failure; `RETRY n UNLESS-EXIT` it.
pub const PERMANENT_EXIT: i32 = casa_formats::exit::PostExit::Permanent.code() as i32;

/// Site settings for the leaf jobs (`--site FILE`, TOML).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    #[serde(default = "default_cpus")]
    pub request_cpus: u32,
    #[serde(default = "default_memory")]
    pub request_memory: String,
    #[serde(default = "default_disk")]
    pub request_disk: String,
    #[serde(default)]
    pub container_image: Option<String>,
    #[serde(default)]
    pub x509_proxy: Option<String>,
    #[serde(default)]
    pub use_scitokens: bool,
    #[serde(default)]
    pub accounting_group: Option<String>,
    #[serde(default)]
    pub requirements: Option<String>,
    #[serde(default)]
    pub desired_sites: Option<String>,
    #[serde(default)]
    pub extra_lines: Vec<String>,
    /// Environment variables of the leaf jobs (HTCondor jobs do not inherit the submitter's).
    /// Written as one `environment` line, together with `CASA_XCACHE` when `xcache` is set.
    #[serde(default)]
    pub environment: std::collections::BTreeMap<String, String>,
    /// Leaf jobs read `root://` inputs through this XCache (`root://host:port`), the input's
    /// own server as the fallback: the jobs' `CASA_XCACHE`.
    #[serde(default)]
    pub xcache: Option<String>,
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Leaf jobs checkpoint every this many seconds and on eviction (HTCondor's
    /// `checkpoint_exit_code`), and resume from the checkpoint; 0 turns checkpointing off.
    #[serde(default = "default_checkpoint_every")]
    pub checkpoint_every: u64,
    #[serde(default = "default_max_merge")]
    pub max_merge_jobs: u32,
    /// Files shipped with every leaf job, as `plan --input` ships them: paths relative to the
    /// site file (made absolute by [`SiteConfig::load`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<PathBuf>,
}

fn default_cpus() -> u32 {
    1
}
fn default_memory() -> String {
    "2 GB".into()
}
fn default_disk() -> String {
    "4 GB".into()
}
fn default_retries() -> u32 {
    3
}
fn default_checkpoint_every() -> u64 {
    casa_formats::exit::DEFAULT_CHECKPOINT_EVERY_S
}
fn default_max_merge() -> u32 {
    4
}

impl Default for SiteConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

impl SiteConfig {
    /// The site config at `path` (the defaults without one), its `xcache` replaced by
    /// `xcache` when given (`--xcache` overrides the site's).
    pub fn load(path: Option<&Path>, xcache: Option<String>) -> Result<SiteConfig, PlanError> {
        let site = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| PlanError::Io {
                    path: format!("reading {}", p.display()),
                    source,
                })?;
                toml::from_str::<SiteConfig>(&text).map_err(|source| PlanError::Site {
                    path: p.display().to_string(),
                    source,
                })?
            }
            None => SiteConfig::default(),
        };
        // Inputs are relative to the site file, so a site file travels with its inputs.
        let base = path.and_then(Path::parent).unwrap_or(Path::new(""));
        let inputs = site.inputs.iter().map(|i| base.join(i)).collect();
        Ok(SiteConfig {
            xcache: xcache.or(site.xcache),
            inputs,
            ..site
        })
    }

    /// Refuse settings that would break or alter the submit files; the jobs' `environment`
    /// value.
    fn check(&self) -> Result<String, PlanError> {
        let site = self;
        for (k, v) in [
            ("request_memory", Some(&site.request_memory)),
            ("request_disk", Some(&site.request_disk)),
            ("container_image", site.container_image.as_ref()),
            ("x509_proxy", site.x509_proxy.as_ref()),
            ("accounting_group", site.accounting_group.as_ref()),
            ("requirements", site.requirements.as_ref()),
            ("desired_sites", site.desired_sites.as_ref()),
            ("xcache", site.xcache.as_ref()),
        ] {
            if let Some(v) = v {
                check_setting(k, v)?;
            }
        }
        if let Some(x) = &site.xcache {
            rootio::source::xrootd::parse_xcache(x)
                .map_err(|e| PlanError::Invalid(format!("site setting xcache {x:?}: {e}")))?;
        }
        for l in &site.extra_lines {
            check_setting("extra_lines", l)?;
            let lower = l.trim_start().to_ascii_lowercase();
            if lower.starts_with("queue") {
                return Err(PlanError::Invalid(format!(
                    "site extra line {l:?} would queue jobs of its own"
                )));
            }
            if lower
                .strip_prefix("include")
                .is_some_and(|r| r.starts_with([' ', '\t', ':']))
            {
                // `include command : ...` runs a program on the submit host; any include can
                // bring lines the checks here never see.
                return Err(PlanError::Invalid(format!(
                    "site extra line {l:?} includes other submit text (condor_submit would run or read it unchecked): write its lines into extra_lines"
                )));
            }
            let command = lower.split('=').next().unwrap_or("").trim();
            let attribute = (command.strip_prefix('+'))
                .or_else(|| command.strip_prefix("my."))
                .unwrap_or("");
            if matches!(command, "executable" | "arguments" | "args" | "universe")
                || matches!(attribute, "cmd" | "args" | "arguments" | "jobuniverse")
            {
                // The job is casa-wrapper on its job spec; another executable or arguments would
                // run something else under casa's name.
                return Err(PlanError::Invalid(format!(
                    "site extra line {l:?} would change what the jobs run; leaf.sub sets the executable, arguments and universe (use --templates for another submit file)"
                )));
            }
            if command == "transfer_input_files" || command == "transfer_output_files" {
                // A second transfer line would replace leaf.sub's: the job would lose its
                // plugin and job spec (or its outputs).
                return Err(PlanError::Invalid(format!(
                    "site extra line {l:?} would replace the jobs' own file transfer: ship files with `plan --input FILE` or the site's inputs list"
                )));
            }
            if command == "environment" || command == "env" {
                // A second environment line would replace the first (CASA_XCACHE, say).
                return Err(PlanError::Invalid(format!(
                    "site extra line {l:?} sets the environment: use the site's [environment] table"
                )));
            }
        }
        job_environment(site)
    }
}

/// Everything `plan` needs besides the fileset.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    pub rundir: PathBuf,
    pub plugin: PathBuf,
    pub wrapper: PathBuf,
    pub merge: Option<PathBuf>,
    pub submit: PathBuf,
    pub events_per_job: u64,
    pub fan_in: usize,
    pub run_id: String,
    pub templates: Option<PathBuf>,
    pub site: SiteConfig,
    pub skip_bad_files: bool,
    /// Inputs left out before planning (unreadable with `--skip-bad-files`), for the
    /// manifest and the summary.
    pub skipped: crate::inputs::Skipped,
    /// The command line, for the manifest.
    pub command_line: Vec<String>,
    /// Files shipped with every leaf job (`--input`, after the site's `inputs`); the plugin
    /// opens each by its file name.
    pub inputs: Vec<PathBuf>,
    /// The plugin configuration (`--config cfg.{json,toml}`), handed to every job's `init`.
    pub config: Option<PathBuf>,
    /// Open every file to check the plugin's required columns (`--no-column-check` turns it
    /// off, for files the submit host cannot reach).
    pub check_columns: bool,
}

/// Totals of a plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlanSummary {
    pub jobs: usize,
    pub merge_nodes: usize,
    pub chunks: usize,
    pub events: u64,
    pub events_per_dataset: std::collections::BTreeMap<String, u64>,
    /// Files left out of the plan: unreadable (`--skip-bad-files`) or without steps.
    pub skipped_files: Vec<SkippedFile>,
    /// Datasets left without any file to read.
    pub skipped_datasets: Vec<String>,
    /// Leaf nodes are numbered dataset by dataset: which run of leaves holds which dataset,
    /// so `status` can answer per dataset without reading every job spec.
    pub leaf_ranges: Vec<LeafRange>,
}

/// Leaves `first .. first + count` hold `dataset`'s `events`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeafRange {
    pub dataset: String,
    pub first: usize,
    pub count: usize,
    pub events: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("template {name}: {what}")]
    Template { name: String, what: String },
    #[error("site config {path}: {source}")]
    Site {
        path: String,
        #[source]
        source: toml::de::Error,
    },
    #[error(transparent)]
    Name(#[from] casa_run::NameError),
    #[error("plugin configuration {path}: {what}")]
    Config { path: String, what: String },
    #[error(transparent)]
    Columns(#[from] crate::columns::ColumnCheckError),
    #[error("shipped input {path}: {what}")]
    Input { path: String, what: String },
    #[error(transparent)]
    Ship(#[from] crate::ship::ShipError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PlanError + '_ {
    move |source| PlanError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Paths written into submit and DAG files must not need quoting HTCondor cannot do.
pub fn check_path(what: &str, p: &Path) -> Result<String, PlanError> {
    let s = p
        .to_str()
        .ok_or_else(|| PlanError::Invalid(format!("{what} path is not UTF-8: {}", p.display())))?;
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "/._-+@%,:~".contains(*c)))
    {
        return Err(PlanError::Invalid(format!(
            "{what} path {s:?} contains {c:?}, which cannot be written safely into HTCondor submit and DAG files; use a path of letters, digits and /._-+@%,:~"
        )));
    }
    Ok(s.to_string())
}

/// Settings copied into submit files must be single lines without characters that end or
/// start HTCondor syntax.
fn check_setting(name: &str, v: &str) -> Result<(), PlanError> {
    if v.contains('\n') || v.contains('\r') || v.contains('\0') {
        return Err(PlanError::Invalid(format!(
            "site setting {name} contains a line break"
        )));
    }
    if name != "requirements" && name != "extra_lines" && v.contains('"') {
        return Err(PlanError::Invalid(format!(
            "site setting {name} contains a double quote: {v:?}"
        )));
    }
    Ok(())
}

/// The leaf jobs' `environment` value (HTCondor's space-separated `NAME=value` syntax, values
/// with spaces in single quotes): `CASA_XCACHE` from `xcache`, then the site's table. Empty
/// when there is nothing to set.
fn job_environment(site: &SiteConfig) -> Result<String, PlanError> {
    let mut vars: Vec<(&str, &str)> = Vec::new();
    if let Some(x) = &site.xcache {
        if site.environment.contains_key("CASA_XCACHE") {
            return Err(PlanError::Invalid(
                "site sets CASA_XCACHE in [environment] and xcache: keep one".into(),
            ));
        }
        vars.push(("CASA_XCACHE", x));
    }
    vars.extend(
        site.environment
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    let mut out = Vec::new();
    for (k, v) in vars {
        let mut name = k.chars();
        let good_name = name
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !good_name {
            return Err(PlanError::Invalid(format!(
                "site environment variable name {k:?} must be letters, digits and _"
            )));
        }
        if v.contains(['"', '\'', '\n', '\r', '\0']) {
            return Err(PlanError::Invalid(format!(
                "site environment variable {k}: its value {v:?} contains a quote or line break"
            )));
        }
        out.push(if v.contains(char::is_whitespace) || v.is_empty() {
            format!("{k}='{v}'")
        } else {
            format!("{k}={v}")
        });
    }
    Ok(out.join(" "))
}

/// Group the runnable steps of each dataset into leaf jobs of about `events_per_job` events,
/// never splitting a step and never mixing datasets.
pub fn group_jobs(fs: &Fileset, events_per_job: u64) -> (Vec<Vec<Chunk>>, Vec<SkippedFile>) {
    let mut jobs = Vec::new();
    let skipped = for_each_job(fs, events_per_job, |chunks| {
        jobs.push(chunks);
        Ok(())
    })
    .expect("collecting cannot fail");
    (jobs, skipped)
}

/// Like [`group_jobs`], handing each job to `f` as soon as it is complete, so planning a
/// million chunks holds one job in memory, not all of them. Returns the skipped files.
pub fn for_each_job(
    fs: &Fileset,
    events_per_job: u64,
    mut f: impl FnMut(Vec<Chunk>) -> Result<(), PlanError>,
) -> Result<Vec<SkippedFile>, PlanError> {
    let mut skipped = Vec::new();
    for ds in &fs.datasets {
        let mut current: Vec<Chunk> = Vec::new();
        let mut events = 0u64;
        for file in &ds.files {
            let Some(steps) = &file.steps else {
                skipped.push(SkippedFile {
                    dataset: ds.name.clone(),
                    file: file.path.clone(),
                    reason: "no steps in the fileset (preprocessing could not read it)".into(),
                });
                continue;
            };
            for &[a, b] in steps {
                if b == a {
                    continue;
                }
                if events > 0 && events + (b - a) > events_per_job {
                    f(std::mem::take(&mut current))?;
                    events = 0;
                }
                current.push(Chunk {
                    dataset: ds.name.clone(),
                    file: file.path.clone(),
                    tree: file.object_path.clone(),
                    entry_start: a,
                    entry_stop: b,
                    uuid: file.uuid.clone(),
                    metadata: ds.metadata.clone(),
                });
                events += b - a;
            }
        }
        if !current.is_empty() {
            f(current)?;
        }
    }
    Ok(skipped)
}

/// One file under two paths (a symlink, `dir/./file`, two redirectors) in one dataset would
/// be read, and counted, once per path: a file is known by its UUID, and a dataset naming one
/// UUID and tree under two paths is refused, naming both. (The same file in two datasets is
/// allowed: each dataset counts it once.)
pub fn check_each_file_once(fs: &Fileset) -> Result<(), PlanError> {
    for ds in &fs.datasets {
        let mut seen: std::collections::HashMap<(&str, &str), &str> = Default::default();
        for f in &ds.files {
            let Some(uuid) = f.uuid.as_deref().filter(|u| !u.is_empty()) else {
                continue;
            };
            if let Some(first) = seen.insert((uuid, &f.object_path), &f.path) {
                return Err(PlanError::Invalid(format!(
                    "dataset {}: {first} and {} are the same file (UUID {uuid}, tree {}) under two paths, and its events would be counted twice; list it once",
                    ds.name, f.path, f.object_path
                )));
            }
        }
    }
    Ok(())
}

/// The plugin configuration at `path` as JSON: a `.toml` file is read as TOML, anything else
/// as JSON.
pub fn read_config(path: &Path) -> Result<serde_json::Value, PlanError> {
    let err = |what: String| PlanError::Config {
        path: path.display().to_string(),
        what,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
    {
        let v: toml::Table = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
        serde_json::to_value(v).map_err(|e| err(e.to_string()))
    } else {
        serde_json::from_str(&text).map_err(|e| err(format!("not valid JSON: {e}")))
    }
}

/// A file shipped with every leaf job.
#[derive(Debug, Clone)]
pub struct ShippedInput {
    /// What the plugin opens it as: its file name.
    pub name: String,
    /// Where it was given.
    pub source: PathBuf,
}

/// The inputs to ship, checked: each an existing file whose name is a plain file name that
/// HTCondor can transfer, unique among the inputs and unlike the plugin's (they land in the
/// same sandbox). The same file given twice is shipped once.
pub fn shipped_inputs(
    paths: &[PathBuf],
    plugin_name: &str,
) -> Result<Vec<ShippedInput>, PlanError> {
    let mut out: Vec<ShippedInput> = Vec::new();
    for p in paths {
        let err = |what: String| PlanError::Input {
            path: p.display().to_string(),
            what,
        };
        if !p.is_file() {
            return Err(err("no such file".into()));
        }
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| err("its file name is not UTF-8".into()))?;
        if let Some(c) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "._-+@%:~".contains(*c)))
        {
            return Err(err(format!(
                "its name {name:?} contains {c:?}, which an HTCondor transfer list cannot hold; rename it to letters, digits and ._-+@%:~"
            )));
        }
        if name == plugin_name || name == "casa-out" {
            return Err(err(format!(
                "its name {name:?} is the job's own {} name in the sandbox; rename it",
                if name == "casa-out" {
                    "output"
                } else {
                    "plugin"
                }
            )));
        }
        if let Some(prev) = out.iter().find(|i| i.name == name) {
            let same = |q: &Path| std::fs::canonicalize(q).ok();
            if same(&prev.source) == same(p) {
                continue;
            }
            return Err(err(format!(
                "{} has the same file name {name:?}; the plugin opens inputs by name, so names must be unique",
                prev.source.display()
            )));
        }
        out.push(ShippedInput {
            name: name.to_string(),
            source: p.clone(),
        });
    }
    Ok(out)
}

fn sha256_file(p: &Path) -> Result<String, PlanError> {
    let bytes = std::fs::read(p).map_err(io(p))?;
    Ok(format!("{:x}", Sha256::digest(&bytes)))
}

/// Copy a file into the run directory. A failed copy names both ends: the destination is
/// where a full disk or a missing permission usually is.
fn copy_file(src: &Path, dst: &Path) -> Result<(), PlanError> {
    std::fs::copy(src, dst)
        .map(|_| ())
        .map_err(|source| PlanError::Io {
            path: format!("copying {} to {}", src.display(), dst.display()),
            source,
        })
}

fn template(opts: &PlanOptions, name: &str, builtin: &'static str) -> Result<String, PlanError> {
    match &opts.templates {
        Some(dir) if dir.join(name).exists() => {
            let p = dir.join(name);
            std::fs::read_to_string(&p).map_err(io(&p))
        }
        _ => Ok(builtin.to_string()),
    }
}

fn render(name: &str, text: &str, ctx: &serde_json::Value) -> Result<String, PlanError> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_template(name, text)
        .map_err(|e| PlanError::Template {
            name: name.into(),
            what: e.to_string(),
        })?;
    let out = env
        .get_template(name)
        .and_then(|t| t.render(ctx))
        .map_err(|e| PlanError::Template {
            name: name.into(),
            what: e.to_string(),
        })?;
    Ok(out + "\n")
}

/// Write the run directory. The fileset must be preprocessed (files without steps are
/// skipped and reported).
pub fn plan(
    fs: &Fileset,
    fileset_path: &Path,
    opts: &PlanOptions,
) -> Result<PlanSummary, PlanError> {
    if opts.events_per_job == 0 {
        return Err(PlanError::Invalid(
            "--events-per-job must be at least 1".into(),
        ));
    }
    if opts.fan_in < 2 {
        return Err(PlanError::Invalid("--fan-in must be at least 2".into()));
    }
    let run_id = RunId::new(&opts.run_id)?;
    check_each_file_once(fs)?;
    let site = &opts.site;
    let environment = site.check()?;
    if !opts.plugin.is_file() {
        return Err(PlanError::Invalid(format!(
            "plugin {} does not exist",
            opts.plugin.display()
        )));
    }
    if !opts.wrapper.is_file() {
        return Err(PlanError::Invalid(format!(
            "casa-wrapper not found at {} (build it, or give --wrapper)",
            opts.wrapper.display()
        )));
    }
    let plugin_file_name = (opts.plugin.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let all_inputs: Vec<PathBuf> = site.inputs.iter().chain(&opts.inputs).cloned().collect();
    let shipped = shipped_inputs(&all_inputs, plugin_file_name)?;
    let config = match &opts.config {
        Some(p) => Some((p, read_config(p)?)),
        None => None,
    };
    let config_value = (config.as_ref()).map_or(serde_json::Value::Null, |(_, v)| v.clone());
    // Refuse a plan whose jobs would fail on a missing column before writing anything.
    let setup = casa_wrapper::host::Setup {
        config: config_value.clone(),
        inputs: (shipped.iter())
            .map(|i| (i.name.clone(), i.source.clone()))
            .collect(),
    };
    if opts.check_columns {
        crate::columns::check_columns(fs, &opts.plugin, &setup)?;
    }
    let rundir = std::path::absolute(&opts.rundir).map_err(io(&opts.rundir))?;
    check_path("run directory", &rundir)?;
    let run = RunDir::new(&rundir);
    if run.dag().exists() {
        return Err(PlanError::Invalid(format!(
            "{} already holds a plan (casa.dag); choose a new directory",
            rundir.display()
        )));
    }
    // A plan that fails from here on takes back what it wrote (the binaries are most of it).
    let mut written = Written::before(&rundir);
    run.create().map_err(io(&rundir))?;
    let bin = run.bin_dir();
    use crate::ship::{ship, Strip};
    let plugin = ship(&opts.plugin, &bin, Strip::Keep)?;
    let wrapper = ship(&opts.wrapper, &bin, Strip::Debuglink)?;
    let merge = match &opts.merge {
        Some(m) if m.is_file() => Some(ship(m, &bin, Strip::Debuglink)?),
        _ => None,
    };
    let plugin_s = check_path("plugin", &plugin)?;
    let plugin_name = plugin
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    let wrapper_s = check_path("wrapper", &wrapper)?;
    let submit_s = check_path("casa-submit", &opts.submit)?;
    // Shipped inputs: copied into the run (what the jobs transfer), with their digests.
    let mut input_paths = Vec::new();
    let mut input_records = Vec::new();
    if !shipped.is_empty() {
        std::fs::create_dir_all(run.inputs_dir()).map_err(io(&run.inputs_dir()))?;
    }
    for i in &shipped {
        let dst = run.input(&i.name);
        copy_file(&i.source, &dst)?;
        input_paths.push(check_path("shipped input", &dst)?);
        input_records.push(serde_json::json!({
            "name": i.name,
            "path": i.source.display().to_string(),
            "sha256": sha256_file(&dst)?,
        }));
    }
    let input_names: Vec<String> = shipped.iter().map(|i| i.name.clone()).collect();

    let mut summary = PlanSummary {
        jobs: 0,
        merge_nodes: 0,
        chunks: 0,
        events: 0,
        events_per_dataset: Default::default(),
        skipped_files: Vec::new(),
        skipped_datasets: opts.skipped.datasets.clone(),
        leaf_ranges: Vec::new(),
    };
    let mut leaves = 0;
    let without_steps = for_each_job(fs, opts.events_per_job, |chunks| {
        let node = NodeName::leaf(leaves);
        summary.chunks += chunks.len();
        for c in &chunks {
            let n = c.entry_stop - c.entry_start;
            match summary.events_per_dataset.get_mut(&c.dataset) {
                Some(e) => *e += n,
                None => {
                    summary.events_per_dataset.insert(c.dataset.clone(), n);
                }
            }
            summary.events += n;
        }
        let job_events: u64 = chunks.iter().map(|c| c.entry_stop - c.entry_start).sum();
        match summary.leaf_ranges.last_mut() {
            Some(r) if r.dataset == chunks[0].dataset => {
                r.count += 1;
                r.events += job_events;
            }
            _ => summary.leaf_ranges.push(LeafRange {
                dataset: chunks[0].dataset.clone(),
                first: leaves,
                count: 1,
                events: job_events,
            }),
        }
        let mut spec = JobSpec::new(run_id.as_str(), node.as_str(), chunks);
        spec.config = config_value.clone();
        spec.inputs = input_names.clone();
        let path = run.job_spec(&node);
        // Job specs are written once, by a single planner: a plain write is enough, and
        // fsyncing 10^4 files would dominate planning time.
        std::fs::write(&path, serde_json::to_vec(&spec).expect("serialise")).map_err(io(&path))?;
        std::fs::create_dir(run.node_dir(&node)).map_err(io(&run.nodes_dir()))?;
        leaves += 1;
        Ok(())
    })?;
    summary.jobs = leaves;
    summary.skipped_files = opts.skipped.files.clone();
    summary.skipped_files.extend(without_steps);
    if leaves == 0 {
        return Err(PlanError::Invalid(
            "nothing to do: no file in the fileset has steps".into(),
        ));
    }

    // The DAG.
    let rundir_s = check_path("run directory", &rundir)?;
    let merge_s = match &merge {
        Some(m) => check_path("casa-merge", m)?,
        None => check_path(
            "casa-merge",
            &opts
                .merge
                .clone()
                .unwrap_or_else(|| PathBuf::from("casa-merge")),
        )?,
    };
    let (dag, merge_nodes) = CasaDag {
        run_id: &run_id,
        leaves,
        fan_in: opts.fan_in,
        retries: site.retries,
        permanent_exit: PERMANENT_EXIT,
        submit: &submit_s,
        rundir: &rundir_s,
        skip_bad_files: opts.skip_bad_files,
        max_merge_jobs: site.max_merge_jobs,
    }
    .build()
    .map_err(|e| PlanError::Invalid(format!("the DAG: {e}")))?;
    summary.merge_nodes = merge_nodes;
    let dag_path = run.dag();
    atomic_write(&dag_path, dag.to_string().as_bytes()).map_err(io(&dag_path))?;

    // Submit files.
    let ctx = serde_json::json!({
        "wrapper": wrapper_s,
        "plugin": plugin_s,
        "plugin_name": plugin_name,
        "merge": merge_s,
        "rundir": rundir_s,
        "run_id": opts.run_id,
        "request_cpus": site.request_cpus,
        "checkpoint_every": site.checkpoint_every,
        "checkpoint_exit_code": casa_formats::ExitClass::Checkpointed.code(),
        "request_memory": site.request_memory,
        "request_disk": site.request_disk,
        "container_image": site.container_image,
        "x509_proxy": site.x509_proxy,
        "use_scitokens": site.use_scitokens,
        "accounting_group": site.accounting_group,
        "requirements": site.requirements,
        "desired_sites": site.desired_sites,
        "extra_lines": site.extra_lines,
        "xcache": site.xcache,
        "environment": environment,
        "inputs": input_paths,
    });
    for (name, builtin) in [
        ("leaf.sub", include_str!("../../templates/leaf.sub.j2")),
        ("merge.sub", include_str!("../../templates/merge.sub.j2")),
    ] {
        let text = render(name, &template(opts, &format!("{name}.j2"), builtin)?, &ctx)?;
        // A custom leaf template that forgets the inputs would run jobs without them.
        if name == "leaf.sub" {
            if let Some(missing) = input_paths.iter().find(|p| !text.contains(p.as_str())) {
                return Err(PlanError::Template {
                    name: name.into(),
                    what: format!("does not transfer the shipped input {missing} (add the template's `inputs` to transfer_input_files)"),
                });
            }
        }
        let p = run.submit_file(name);
        atomic_write(&p, text.as_bytes()).map_err(io(&p))?;
    }

    // The fileset and the manifest.
    let fs_path = run.fileset();
    atomic_write(
        &fs_path,
        &serde_json::to_vec_pretty(&fs.to_json()).expect("serialise"),
    )
    .map_err(io(&fs_path))?;
    let manifest = serde_json::json!({
        "format": "casa-run",
        "version": "1.0",
        "casa_version": env!("CARGO_PKG_VERSION"),
        "run_id": opts.run_id,
        "created_unix": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        "command_line": opts.command_line,
        "fileset": {"path": fileset_path.display().to_string(), "sha256": sha256_file(fileset_path)?},
        "plugin": {"path": opts.plugin.display().to_string(), "sha256": sha256_file(&plugin)?},
        "wrapper": {"sha256": sha256_file(&wrapper)?},
        "merge": merge.as_ref().map(|m| m.display().to_string()),
        "inputs": input_records,
        "config": match &config {
            Some((p, v)) => serde_json::json!({"path": p.display().to_string(), "sha256": sha256_file(p)?, "value": v}),
            None => serde_json::Value::Null,
        },
        "options": {"events_per_job": opts.events_per_job, "fan_in": opts.fan_in, "skip_bad_files": opts.skip_bad_files, "site": site},
        "totals": &summary,
    });
    let mp = run.manifest();
    atomic_write(
        &mp,
        &serde_json::to_vec_pretty(&manifest).expect("serialise"),
    )
    .map_err(io(&mp))?;
    written.keep();
    Ok(summary)
}

/// What a plan wrote into its run directory, removed again unless [`Written::keep`] is
/// called: the directory itself when the plan made it, else the entries it added.
struct Written {
    root: PathBuf,
    /// The entries there before, or `None` when the directory did not exist.
    before: Option<Vec<std::ffi::OsString>>,
    keep: bool,
}

impl Written {
    fn before(root: &Path) -> Written {
        let before = std::fs::read_dir(root)
            .ok()
            .map(|d| d.flatten().map(|e| e.file_name()).collect());
        Written {
            root: root.to_path_buf(),
            before,
            keep: false,
        }
    }

    fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for Written {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        match &self.before {
            None => {
                let _ = std::fs::remove_dir_all(&self.root);
            }
            Some(before) => {
                for e in std::fs::read_dir(&self.root)
                    .into_iter()
                    .flatten()
                    .flatten()
                {
                    if !before.contains(&e.file_name()) {
                        let p = e.path();
                        let _ = match p.is_dir() {
                            true => std::fs::remove_dir_all(&p),
                            false => std::fs::remove_file(&p),
                        };
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A copy that fails (a full disk, say) names where it was writing, not only the source.
    #[test]
    fn a_failed_copy_names_the_destination() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("libx.so");
        std::fs::write(&src, b"x").unwrap();
        let dst = d.path().join("run/bin/libx.so");
        let e = copy_file(&src, &dst).unwrap_err().to_string();
        assert!(e.contains(&dst.display().to_string()), "{e}");
        assert!(e.contains(&src.display().to_string()), "{e}");
        // Writing to /dev/full is what a full disk gives.
        if Path::new("/dev/full").exists() {
            let e = copy_file(&src, Path::new("/dev/full"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("to /dev/full") && e.contains("No space"), "{e}");
        }
    }

    /// templates/site.toml documents every key: with its examples uncommented it must parse
    /// (`deny_unknown_fields` catches a renamed key) and set every optional setting.
    #[test]
    fn the_documented_site_config_parses_with_every_example_set() {
        let text: String = include_str!("../../templates/site.toml")
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest)
                    if rest.starts_with('[')
                        || rest.split_once(" = ").is_some_and(|(k, _)| {
                            k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                        }) =>
                {
                    rest
                }
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let site: SiteConfig = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert!(site.container_image.is_some() && site.x509_proxy.is_some());
        assert!(site.use_scitokens && site.accounting_group.is_some());
        assert!(site.requirements.is_some() && site.desired_sites.is_some());
        assert!(!site.extra_lines.is_empty() && site.xcache.is_some());
        assert_eq!(site.inputs, [PathBuf::from("corrections.json")]);
        assert_eq!(site.environment["MY_ANALYSIS_YEAR"], "2018");
        assert_eq!(
            job_environment(&site).unwrap(),
            "CASA_XCACHE=root://xcache.example.org:1094 MY_ANALYSIS_YEAR=2018"
        );
    }
}
