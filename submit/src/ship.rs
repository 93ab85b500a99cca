//! The binaries a run ships (casa-wrapper, casa-merge, the plugin) into `RUNDIR/bin/`.
//!
//! casa's own binaries are shipped stripped: every grid job transfers casa-wrapper, and its
//! debug information is most of its size. The symbols are kept beside it in a side file
//! (`casa-wrapper.debug`, named by the stripped binary's `.gnu_debuglink`), where Rust's
//! backtraces and gdb find them, so a crash on the submit machine or a job's core file still
//! reads with function names and lines; the side file is not transferred to the jobs.
//!
//! Runs share one copy: each binary goes once into a cache (keyed by the file's identity and
//! modification time, so a rebuilt binary is a new entry) and is hard-linked from there into each run's `bin/`, so a hundred runs
//! cost the disk of one. Where the cache cannot be used (not writable, another file system)
//! the run gets its own copy, as before.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

/// Why a binary could not be shipped, naming it.
#[derive(Debug, thiserror::Error)]
pub enum ShipError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} has no file name")]
    NoName(PathBuf),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ShipError + '_ {
    move |source| ShipError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// How a binary is shipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strip {
    /// casa's own binaries: stripped, symbols in `NAME.debug` beside them.
    Debuglink,
    /// As given (the user's plugin).
    Keep,
}

/// The cache of shipped binaries: `CASA_CACHE_DIR`, else `$XDG_CACHE_HOME/casa`, else
/// `~/.cache/casa`; binaries under `bin/`. Deleting it at any time is safe (runs keep
/// their hard links).
pub fn cache_dir() -> Option<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("CASA_CACHE_DIR")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("casa")))
        .or_else(|| env("HOME").map(|h| h.join(".cache/casa")))
}

/// Ship `src` into `dir` (as its file name), through the cache when it can; returns the
/// shipped path.
pub fn ship(src: &Path, dir: &Path, strip: Strip) -> Result<PathBuf, ShipError> {
    let name = src
        .file_name()
        .ok_or_else(|| ShipError::NoName(src.to_path_buf()))?;
    let dst = dir.join(name);
    if let Some(cache) = cache_dir() {
        let linked = cached(src, &cache.join("bin"), strip).and_then(|entry| link(&entry, dir));
        match linked {
            Ok(()) => return Ok(dst),
            // A cache on another file system, full or pruned under us: a copy of its own.
            Err(e) => tracing::debug!("{}: not shared through the cache: {e}", src.display()),
        }
    }
    prepare(src, &dst, strip)?;
    Ok(dst)
}

/// Hard-link every file of a cache entry into `dir`; none of them when one fails.
fn link(entry: &Path, dir: &Path) -> Result<(), ShipError> {
    let files: Vec<_> = std::fs::read_dir(entry)
        .and_then(|d| d.collect::<Result<_, _>>())
        .map_err(io(entry))?;
    for (i, f) in files.iter().enumerate() {
        let dst = dir.join(f.file_name());
        if let Err(e) = std::fs::hard_link(f.path(), &dst) {
            for done in &files[..i] {
                let _ = std::fs::remove_file(dir.join(done.file_name()));
            }
            return Err(io(&dst)(e));
        }
    }
    Ok(())
}

/// The cache entry of `src` (a directory holding the binary as shipped, and its `.debug`),
/// made when missing. Two plans making one entry at once both succeed: each prepares it in
/// a directory of its own and renames that into place; the loser's is dropped.
fn cached(src: &Path, cache: &Path, strip: Strip) -> Result<PathBuf, ShipError> {
    let digest = key(src)?;
    let kind = match strip {
        Strip::Debuglink => "stripped",
        Strip::Keep => "as-is",
    };
    let entry = cache.join(format!("{}-{kind}", &digest[..32]));
    if entry.is_dir() {
        return Ok(entry);
    }
    std::fs::create_dir_all(cache).map_err(io(cache))?;
    prune(cache);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = cache.join(format!(".tmp-{}-{nanos}", std::process::id()));
    std::fs::create_dir(&tmp).map_err(io(&tmp))?;
    let name = src
        .file_name()
        .ok_or_else(|| ShipError::NoName(src.to_path_buf()))?;
    let made = prepare(src, &tmp.join(name), strip).and_then(|()| {
        // Read-only: every run links these same bytes.
        for f in std::fs::read_dir(&tmp).map_err(io(&tmp))? {
            let p = f.map_err(io(&tmp))?.path();
            set_mode(&p, 0o555)?;
        }
        Ok(())
    });
    let renamed = made.and_then(|()| std::fs::rename(&tmp, &entry).map_err(io(&entry)));
    if renamed.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
        if !entry.is_dir() {
            renamed?;
        }
    }
    Ok(entry)
}

/// Drop the entries no run links any more (every file's link count is 1) and leftovers of
/// interrupted plans, once an hour old (a plan linking one right now is younger).
fn prune(cache: &Path) {
    use std::os::unix::fs::MetadataExt;
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for e in std::fs::read_dir(cache).into_iter().flatten().flatten() {
        let p = e.path();
        let old = (e.metadata().and_then(|m| m.modified())).is_ok_and(|t| t < hour_ago);
        let unused = std::fs::read_dir(&p)
            .into_iter()
            .flatten()
            .all(|f| f.and_then(|f| f.metadata()).is_ok_and(|m| m.nlink() == 1));
        let tmp = e.file_name().to_string_lossy().starts_with(".tmp-");
        if old && (tmp || unused) {
            let _ = std::fs::remove_dir_all(&p);
        }
    }
}

/// The cache key of a file: the SHA-256 of its identity and version (device, inode, size,
/// modification time), not of its bytes, which would cost a read of every binary at every
/// plan (a second, unoptimised); a rebuilt binary gets a new entry.
fn key(src: &Path) -> Result<String, ShipError> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(src).map_err(io(src))?;
    let id = format!(
        "{} {} {} {} {}",
        m.dev(),
        m.ino(),
        m.len(),
        m.mtime(),
        m.mtime_nsec()
    );
    Ok(format!("{:x}", Sha256::digest(id.as_bytes())))
}

fn set_mode(p: &Path, mode: u32) -> Result<(), ShipError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).map_err(io(p))
}

/// Write `src` to `dst` as shipped: a copy, or stripped with `dst.debug` beside it. Without a
/// working `objcopy` (binutils) the binary is copied as it is, with a warning.
fn prepare(src: &Path, dst: &Path, strip: Strip) -> Result<(), ShipError> {
    if strip == Strip::Debuglink {
        let mut debug = dst.as_os_str().to_owned();
        debug.push(".debug");
        let debug = PathBuf::from(debug);
        let objcopy = |args: &[&std::ffi::OsStr]| {
            Command::new("objcopy")
                .args(args)
                .output()
                .map_err(|e| e.to_string())
                .and_then(|o| match o.status.success() {
                    true => Ok(()),
                    false => Err(String::from_utf8_lossy(&o.stderr).trim().to_string()),
                })
        };
        let mut link = std::ffi::OsString::from("--add-gnu-debuglink=");
        link.push(&debug);
        let r = objcopy(&[
            "--only-keep-debug".as_ref(),
            src.as_os_str(),
            debug.as_os_str(),
        ])
        .and_then(|()| {
            objcopy(&[
                "--strip-all".as_ref(),
                link.as_os_str(),
                src.as_os_str(),
                dst.as_os_str(),
            ])
        });
        match r {
            Ok(()) => return Ok(()),
            Err(e) => {
                let _ = std::fs::remove_file(&debug);
                let _ = std::fs::remove_file(dst);
                tracing::warn!(
                    "{}: shipped unstripped (objcopy: {e}); install binutils to ship it smaller",
                    src.display()
                );
            }
        }
    }
    std::fs::copy(src, dst).map_err(io(src))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A binary shipped into two runs: stripped (smaller, still runs, symbols in the side
    /// file its debuglink names), and one copy on disk for both.
    #[test]
    fn shipped_binaries_are_stripped_and_shared() {
        let d = tempfile::tempdir().unwrap();
        let exe = std::env::current_exe().unwrap();
        let cache = d.path().join("cache");
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let one = |dir: &Path| {
            let entry = cached(&exe, &cache, Strip::Debuglink).unwrap();
            link(&entry, dir).unwrap();
            dir.join(exe.file_name().unwrap())
        };
        let (sa, sb) = (one(&a), one(&b));
        use std::os::unix::fs::MetadataExt;
        let (ma, mb) = (sa.metadata().unwrap(), sb.metadata().unwrap());
        assert_eq!((ma.dev(), ma.ino()), (mb.dev(), mb.ino()), "one copy");
        assert!(ma.len() < exe.metadata().unwrap().len() / 2, "{}", ma.len());
        let o = Command::new("readelf")
            .args(["--string-dump=.gnu_debuglink"])
            .arg(&sa)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        let debug = format!("{}.debug", exe.file_name().unwrap().to_string_lossy());
        assert!(text.contains(&debug), "{text}");
        assert!(a.join(&debug).is_file());
        // The stripped test binary still runs (it lists its tests).
        let o = Command::new(&sa).arg("--list").output().unwrap();
        assert!(o.status.success());
    }
}
