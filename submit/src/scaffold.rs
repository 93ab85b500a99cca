//! `casa-submit new-plugin NAME`: a plugin crate from templates/plugin/, ready to build and run
//! on the demo data.

use std::path::{Path, PathBuf};

/// Where the casa-plugin SDK is: the source tree casa was built from.
fn sdk_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin")
}

pub fn new_plugin(dir: &Path, name: &str) -> Result<PathBuf, String> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        || name.starts_with(|c: char| c.is_ascii_digit())
    {
        return Err(format!(
            "plugin name {name:?} must be letters, digits, - and _, not starting with a digit"
        ));
    }
    let root = dir.join(name);
    if root.exists() {
        return Err(format!("{} already exists", root.display()));
    }
    let sdk = std::fs::canonicalize(sdk_path())
        .map_err(|e| format!("casa-plugin SDK at {}: {e}", sdk_path().display()))?;
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
    std::fs::create_dir_all(root.join("src")).map_err(|e| format!("{}: {e}", root.display()))?;
    for (path, text) in files {
        env.add_template(path, text).map_err(|e| e.to_string())?;
        let out = env
            .get_template(path)
            .and_then(|t| t.render(&ctx))
            .map_err(|e| e.to_string())?;
        std::fs::write(root.join(path), out + "\n").map_err(|e| format!("{path}: {e}"))?;
    }
    Ok(root)
}
