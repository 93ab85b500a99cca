//! `casa-submit new-plugin NAME`: a plugin crate from templates/plugin/, ready to build and run
//! on the demo data.

use std::path::{Path, PathBuf};

/// Where the casa-plugin SDK is: the source tree casa was built from.
fn sdk_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin")
}

/// Why a plugin crate could not be created, naming the name, file or template.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error("plugin name {0:?} must be letters, digits, - and _, not starting with a digit")]
    Name(String),
    #[error("{0} already exists")]
    Exists(PathBuf),
    #[error("casa-plugin SDK at {path}: {source}")]
    Sdk {
        path: PathBuf,
        #[source]
        source: std::io::Error,
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

pub fn new_plugin(dir: &Path, name: &str) -> Result<PathBuf, ScaffoldError> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        || name.starts_with(|c: char| c.is_ascii_digit())
    {
        return Err(ScaffoldError::Name(name.into()));
    }
    let root = dir.join(name);
    if root.exists() {
        return Err(ScaffoldError::Exists(root));
    }
    let sdk = std::fs::canonicalize(sdk_path()).map_err(|source| ScaffoldError::Sdk {
        path: sdk_path(),
        source,
    })?;
    let ctx = serde_json::json!({
        "name": name,
        "crate_name": name.replace('-', "_"),
        "casa_plugin": sdk.display().to_string(),
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
    std::fs::create_dir_all(root.join("src")).map_err(|source| ScaffoldError::Write {
        path: root.clone(),
        source,
    })?;
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
        let dst = root.join(path);
        std::fs::write(&dst, out + "\n")
            .map_err(|source| ScaffoldError::Write { path: dst, source })?;
    }
    Ok(root)
}
