//! Writing result files so that a crash, a full disk or an eviction never leaves a half file
//! where a reader expects a whole one: write a temporary file in the same directory, fsync it,
//! rename it over the target, fsync the directory.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Atomically replace `path` with `bytes`.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = write_temporary(path, bytes)?;
    let result = rename_into_place(&tmp, path);
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Write several files as one result: each is first written to a temporary file beside its
/// target and fsynced, and only once all are written are they renamed into place, in the
/// order given (put the file that says "this result is whole", a report, last). A failure
/// while writing (a full disk, a name too long) leaves none of the targets changed and no
/// temporary file; the error names the target concerned.
pub fn atomic_write_all(files: &[(PathBuf, Vec<u8>)]) -> Result<(), (PathBuf, io::Error)> {
    let mut written: Vec<PathBuf> = Vec::with_capacity(files.len());
    for (path, bytes) in files {
        match write_temporary(path, bytes) {
            Ok(tmp) => written.push(tmp),
            Err(e) => {
                for t in &written {
                    let _ = fs::remove_file(t);
                }
                return Err((path.clone(), e));
            }
        }
    }
    for (i, ((path, _), tmp)) in files.iter().zip(&written).enumerate() {
        if let Err(e) = rename_into_place(tmp, path) {
            for t in &written[i..] {
                let _ = fs::remove_file(t);
            }
            return Err((path.clone(), e));
        }
    }
    Ok(())
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// `bytes` in a fsynced temporary file beside `path`: its path.
fn write_temporary(path: &Path, bytes: &[u8]) -> io::Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let tmp = parent_dir(path).join(format!(
        ".{}.tmp.{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    match result {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn rename_into_place(tmp: &Path, path: &Path) -> io::Result<()> {
    fs::rename(tmp, path)?;
    // The rename is durable only once the directory entry is.
    File::open(parent_dir(path))?.sync_all()
}

/// Whether writing one of `a` and `b` can replace the other: the same directory entry once
/// directories, `.`, `..` and symlinked directories are resolved (`dir/./f`, `sub/../f`), or,
/// when both exist, the same file (a symlink or hard link to it). Two outputs, or an output
/// and an input, for which this holds would clobber each other.
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (fs::metadata(a), fs::metadata(b)) {
            return (x.dev(), x.ino()) == (y.dev(), y.ino());
        }
    }
    entry(a) == entry(b)
}

/// The directory entry a write of `path` replaces: its directory resolved (as far as it
/// exists), and its name.
fn entry(path: &Path) -> std::path::PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    match (abs.parent(), abs.file_name()) {
        (Some(dir), Some(name)) if name != ".." => match fs::canonicalize(dir) {
            Ok(d) => d.join(name),
            Err(_) => entry(dir).join(name),
        },
        _ => fs::canonicalize(&abs).unwrap_or(abs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_file_under_several_names_is_the_same_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        fs::create_dir(p.join("sub")).unwrap();
        // Not written yet: the same entry however spelled.
        let f = p.join("f");
        for other in [p.join("./f"), p.join("sub/../f"), p.join("sub/.././f")] {
            assert!(same_file(&f, &other), "{}", other.display());
        }
        assert!(same_file(&p.join("no/dir/f"), &p.join("no/./dir/f")));
        assert!(!same_file(&f, &p.join("g")));
        assert!(!same_file(&f, &p.join("sub/f")));
        // A symlinked directory.
        std::os::unix::fs::symlink(p.join("sub"), p.join("alias")).unwrap();
        assert!(same_file(&p.join("sub/x"), &p.join("alias/x")));
        // Written: symlinks and hard links to it too.
        fs::write(&f, b"x").unwrap();
        std::os::unix::fs::symlink(&f, p.join("link")).unwrap();
        fs::hard_link(&f, p.join("hard")).unwrap();
        assert!(same_file(&f, &p.join("link")));
        assert!(same_file(&p.join("hard"), &p.join("sub/../link")));
        fs::write(p.join("g"), b"x").unwrap();
        assert!(!same_file(&f, &p.join("g")));
        // A relative path and an absolute one.
        let cwd = std::env::current_dir().unwrap();
        assert!(same_file(Path::new("Cargo.toml"), &cwd.join("Cargo.toml")));
    }

    #[test]
    fn replaces_whole_files_and_leaves_no_temporaries() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("out.bin");
        atomic_write(&p, b"first").unwrap();
        atomic_write(&p, b"second, longer").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"second, longer");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_set_written_as_one_lands_whole_or_not_at_all() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        atomic_write_all(&[(a.clone(), b"a1".to_vec()), (b.clone(), b"b1".to_vec())]).unwrap();
        // The second target's directory is missing: neither is replaced, nothing left over.
        let err = atomic_write_all(&[
            (a.clone(), b"a2".to_vec()),
            (d.path().join("no/such/c"), b"c".to_vec()),
        ])
        .unwrap_err();
        assert_eq!(err.0, d.path().join("no/such/c"));
        assert_eq!(fs::read(&a).unwrap(), b"a1");
        assert_eq!(fs::read(&b).unwrap(), b"b1");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 2);
    }

    #[test]
    fn a_missing_directory_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        assert!(atomic_write(&d.path().join("no/such/dir/x"), b"x").is_err());
    }
}
