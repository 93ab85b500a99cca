//! `casa-submit new-plugin NAME`: a plugin crate from templates/plugin/, ready to build and run
//! on the demo data, wherever it is created: the SDK (casa-plugin and the two crates it uses,
//! casa-histspec and casa-correction) is vendored into the new crate's `vendor/`, from the
//! sources this casa-submit was built from, so the plugin speaks exactly its ABI and needs
//! neither a casa checkout nor a registry that has casa.

use std::path::{Path, PathBuf};

/// Why a plugin crate could not be created, naming the name, file or template.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error(
        "plugin name {name:?} must be letters, digits, - and _, not starting with a digit{hint}"
    )]
    Name { name: String, hint: String },
    #[error("{0} already exists")]
    Exists(PathBuf),
    #[error("vendoring {krate}: its Cargo.toml: {problem}")]
    Manifest {
        krate: &'static str,
        problem: String,
    },
    #[error("template {name}: {source}")]
    Template {
        name: String,
        #[source]
        source: minijinja::Error,
    },
    #[error("{path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A crate of the SDK as casa-submit carries it: its manifest and its sources.
struct Vendored {
    name: &'static str,
    manifest: &'static str,
    files: &'static [(&'static str, &'static str)],
}

macro_rules! sources {
    ($dir:literal: $($file:literal),* $(,)?) => {
        &[$(($file, include_str!(concat!("../../", $dir, "/", $file)))),*]
    };
}

/// The SDK. A test checks these lists hold every source file of the three crates.
const SDK: [Vendored; 3] = [
    Vendored {
        name: "casa-plugin",
        manifest: include_str!("../../plugin/Cargo.toml"),
        files: sources!("plugin":
            "include/casa_plugin.h", "src/abi.rs", "src/collection.rs", "src/events.rs",
            "src/ffi.rs", "src/hist.rs", "src/lib.rs", "src/output.rs", "src/random.rs",
            "src/selection.rs", "src/setup.rs", "src/testing.rs", "src/vec4.rs",
        ),
    },
    Vendored {
        name: "casa-histspec",
        manifest: include_str!("../../histspec/Cargo.toml"),
        files: sources!("histspec": "src/fill.rs", "src/lib.rs", "src/spec.rs"),
    },
    Vendored {
        name: "casa-correction",
        manifest: include_str!("../../correction/Cargo.toml"),
        files: sources!("correction":
            "src/error.rs", "src/formula.rs", "src/json.rs", "src/lib.rs", "src/libm.rs",
            "src/load.rs", "src/node.rs", "src/prng.rs",
        ),
    },
];

/// The workspace manifest, for the versions and package fields the SDK's manifests inherit.
const WORKSPACE: &str = include_str!("../../Cargo.toml");

/// Check a plugin name (clap calls this, so a bad one is a usage error); a path given as the
/// name gets the `--dir` spelling of it as a hint.
pub fn check_name(name: &str) -> Result<String, ScaffoldError> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        return Ok(name.to_string());
    }
    let p = Path::new(name);
    let hint = match (p.parent(), p.file_name()) {
        (Some(dir), Some(base)) if !dir.as_os_str().is_empty() => format!(
            "; to create it in another directory, give the directory with --dir: \
             casa-submit new-plugin {} --dir {}",
            base.to_string_lossy(),
            dir.display()
        ),
        _ => String::new(),
    };
    Err(ScaffoldError::Name {
        name: name.into(),
        hint,
    })
}

/// `manifest` (an SDK crate's Cargo.toml) standing alone: what it inherits from the workspace
/// spelled out, its SDK dependencies pointing at their vendored siblings, and nothing a
/// plugin build does not need (tests, benches, lints).
fn vendored_manifest(krate: &'static str, manifest: &str) -> Result<String, ScaffoldError> {
    let bad = |problem: String| ScaffoldError::Manifest { krate, problem };
    let parse = |text: &str| text.parse::<toml::Table>().map_err(|e| bad(e.to_string()));
    let ws = parse(WORKSPACE)?;
    let mut t = parse(manifest)?;
    let ws_table = |key: &str| {
        ws.get("workspace")
            .and_then(|w| w.get(key))
            .and_then(toml::Value::as_table)
            .cloned()
            .ok_or_else(|| bad(format!("the workspace has no [workspace.{key}]")))
    };
    let (ws_package, ws_deps) = (ws_table("package")?, ws_table("dependencies")?);
    let inherits =
        |v: &toml::Value| v.get("workspace").and_then(toml::Value::as_bool) == Some(true);
    if let Some(pkg) = t.get_mut("package").and_then(toml::Value::as_table_mut) {
        for (k, v) in pkg.iter_mut() {
            if inherits(v) {
                *v = ws_package
                    .get(k)
                    .cloned()
                    .ok_or_else(|| bad(format!("package.{k}: not in [workspace.package]")))?;
            }
        }
        pkg.insert("publish".into(), false.into());
    }
    if let Some(deps) = t
        .get_mut("dependencies")
        .and_then(toml::Value::as_table_mut)
    {
        for (name, v) in deps.iter_mut() {
            if inherits(v) {
                *v = ws_deps
                    .get(name)
                    .cloned()
                    .ok_or_else(|| bad(format!("dependency {name}: not in the workspace")))?;
            } else if let Some(dep) = v.as_table_mut().filter(|d| d.contains_key("path")) {
                dep.insert("path".into(), format!("../{name}").into());
            }
        }
    }
    for drop in ["dev-dependencies", "lints", "test", "bench", "example"] {
        t.remove(drop);
    }
    Ok(format!(
        "# Vendored by casa-submit new-plugin from casa {}; do not edit (a newer casa-submit\n\
         # new-plugin writes a newer copy).\n{t}",
        env!("CARGO_PKG_VERSION")
    ))
}

fn write(path: PathBuf, text: &str) -> Result<(), ScaffoldError> {
    let io = |source| ScaffoldError::Write {
        path: path.clone(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    std::fs::write(&path, text).map_err(io)
}

pub fn new_plugin(dir: &Path, name: &str) -> Result<PathBuf, ScaffoldError> {
    let name = check_name(name)?;
    let root = dir.join(&name);
    if root.exists() {
        return Err(ScaffoldError::Exists(root));
    }
    let ctx = serde_json::json!({
        "name": name,
        "crate_name": name.replace('-', "_"),
        "casa_version": env!("CARGO_PKG_VERSION"),
    });
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    let files = [
        (
            "Cargo.toml",
            include_str!("../../templates/plugin/Cargo.toml.j2"),
        ),
        (
            "src/lib.rs",
            include_str!("../../templates/plugin/src/lib.rs.j2"),
        ),
    ];
    for (path, text) in files {
        let template = |source| ScaffoldError::Template {
            name: path.into(),
            source,
        };
        env.add_template(path, text).map_err(template)?;
        let out = env
            .get_template(path)
            .and_then(|t| t.render(&ctx))
            .map_err(template)?;
        write(root.join(path), &(out + "\n"))?;
    }
    for krate in &SDK {
        let base = root.join("vendor").join(krate.name);
        write(
            base.join("Cargo.toml"),
            &vendored_manifest(krate.name, krate.manifest)?,
        )?;
        for (path, text) in krate.files {
            write(base.join(path), text)?;
        }
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file of the SDK's crates (but tests, benches, examples) is vendored: a new module
    /// that the list lacks would make every new plugin fail to build.
    #[test]
    fn the_vendored_sdk_is_complete() {
        let ws = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for (krate, dir) in [
            ("casa-plugin", "plugin"),
            ("casa-histspec", "histspec"),
            ("casa-correction", "correction"),
        ] {
            let v = SDK.iter().find(|v| v.name == krate).unwrap();
            for sub in ["src", "include"] {
                let Ok(entries) = std::fs::read_dir(ws.join(dir).join(sub)) else {
                    continue;
                };
                for e in entries {
                    let p = format!("{sub}/{}", e.unwrap().file_name().to_string_lossy());
                    assert!(
                        v.files.iter().any(|(f, _)| *f == p),
                        "{dir}/{p} is not in scaffold.rs's SDK list for {krate}"
                    );
                }
            }
            let m: toml::Table = vendored_manifest(v.name, v.manifest)
                .unwrap()
                .parse()
                .unwrap();
            let text = m.to_string();
            assert!(!text.contains("workspace"), "{krate}: {text}");
            assert_eq!(
                m["package"]["version"].as_str(),
                Some(env!("CARGO_PKG_VERSION"))
            );
        }
    }

    #[test]
    fn a_path_as_the_name_is_refused_with_the_dir_spelling() {
        let e = check_name("/tmp/x/foo").unwrap_err().to_string();
        assert!(e.contains("casa-submit new-plugin foo --dir /tmp/x"), "{e}");
        assert!(check_name("my-analysis").is_ok());
        assert!(check_name("1x").is_err());
    }
}
