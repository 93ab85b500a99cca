//! Builds the C shim over XrdCl as a shared library (`$OUT_DIR/libxrd_shim.so`, linked
//! against libXrdCl) and generates Rust bindings to it with bindgen. The Rust side never links
//! XrdCl or libstdc++: it embeds the shim and dlopens it at the first `root://` input, so a
//! binary using xrd-sys runs on hosts without XRootD as long as it reads local files only.
//!
//! Needs Debian's `libxrootd-client-dev` (headers, libXrdCl.so) and `libclang-dev` (bindgen).
//! `XROOTD_INCLUDE_DIR` / `XROOTD_LIB_DIR` point elsewhere (e.g. an LCG view on CVMFS).
//! When something is missing the build stops with a message naming the packages and the way
//! to build casa without XRootD, not a panic: a user without them should see what to do.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// How to get casa without this crate, appended to every "missing" message.
const WITHOUT: &str = "Or build casa without XRootD (local inputs only; root:// inputs are then \
    refused): `cargo build --release --workspace --exclude xrd-sys --no-default-features`, or \
    `cargo build --release -p casa-wrapper --no-default-features`.";

/// Stop the build with `message`: printed as it is, without a panic's location and backtrace
/// hint (cargo shows it under "failed to run custom build command for `xrd-sys`").
fn fail(message: &str) -> ! {
    eprintln!("\nerror: {message}\n");
    std::process::exit(1);
}

fn main() {
    println!("cargo:rerun-if-changed=shim/xrd_shim.h");
    println!("cargo:rerun-if-changed=shim/xrd_shim.cc");
    println!("cargo:rerun-if-env-changed=XROOTD_INCLUDE_DIR");
    println!("cargo:rerun-if-env-changed=XROOTD_LIB_DIR");

    // A static glibc binary has no dynamic loader to dlopen the shim with; rustc links it
    // without complaint and the result crashes, so refuse here.
    let features = env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    if env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu")
        && features.split(',').any(|f| f == "crt-static")
    {
        fail(
            "xrd-sys cannot be built with +crt-static on glibc: the XRootD client exists only \
             as shared libraries, and a static binary cannot load them",
        );
    }

    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let include = xrootd_include();
    build_shim(&out, &include);
    generate_bindings(&out);
}

/// The XRootD headers: `XROOTD_INCLUDE_DIR`, else `xrootd-config --cflags`, else Debian's.
fn xrootd_include() -> PathBuf {
    let dir = env::var_os("XROOTD_INCLUDE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(from_config);
    if !dir.join("XrdCl/XrdClFile.hh").exists() {
        fail(&format!(
            "XRootD client headers not found in {} (XrdCl/XrdClFile.hh). xrd-sys needs \
             Debian's libxrootd-client-dev and libclang-dev (`apt-get install \
             libxrootd-client-dev libclang-dev`; ci/setup does), or XROOTD_INCLUDE_DIR and \
             XROOTD_LIB_DIR pointing at another XRootD 5. {WITHOUT}",
            dir.display()
        ));
    }
    dir
}

/// `xrootd-config --cflags`, else Debian's place.
fn from_config() -> PathBuf {
    let from_config = Command::new("xrootd-config")
        .arg("--cflags")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .find_map(|f| f.strip_prefix("-I").map(PathBuf::from))
        });
    from_config.unwrap_or_else(|| PathBuf::from("/usr/include/xrootd"))
}

/// Compile the shim into a shared library with the C++ compiler the `cc` crate picks.
fn build_shim(out: &Path, include: &Path) {
    let compiler = cc::Build::new()
        .cpp(true)
        .pic(true)
        .opt_level(2)
        .debug(false)
        .flag_if_supported("-std=c++14")
        .get_compiler();
    let so = out.join("libxrd_shim.so");
    let mut cmd = compiler.to_command();
    cmd.args([
        "-shared",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-Wno-unused-parameter",
    ])
    .arg("-I")
    .arg(include)
    .arg("shim/xrd_shim.cc")
    .arg("-o")
    .arg(&so)
    .arg("-Wl,-soname,libxrd_shim.so")
    // Every symbol must resolve now, against libXrdCl, not at the first call on a worker.
    .arg("-Wl,--no-undefined")
    .arg("-Wl,--as-needed");
    if let Some(lib) = env::var_os("XROOTD_LIB_DIR") {
        cmd.arg("-L").arg(&lib);
        cmd.arg(format!("-Wl,-rpath,{}", Path::new(&lib).display()));
    }
    cmd.args(["-lXrdCl", "-lXrdUtils"]);
    let status = cmd.status().unwrap_or_else(|e| {
        fail(&format!(
            "cannot run the C++ compiler {compiler:?}: {e} (Debian: g++). {WITHOUT}"
        ))
    });
    if !status.success() {
        // The command without the environment cc's Command carries.
        let line: Vec<String> = std::iter::once(cmd.get_program())
            .chain(cmd.get_args())
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        fail(&format!(
            "building the XrdCl shim failed ({status}): are Debian's libxrootd-client-dev \
             (headers and libXrdCl.so) and g++ installed? command: {}. {WITHOUT}",
            line.join(" ")
        ));
    }
}

/// Bindings to the shim's C header, as a struct of function pointers filled by dlopen.
fn generate_bindings(out: &Path) {
    let generate = || {
        bindgen::Builder::default()
            .header("shim/xrd_shim.h")
            .allowlist_function("xrd_.*")
            .allowlist_type("xrd_.*")
            .allowlist_var("XRD_.*")
            .dynamic_library_name("XrdShim")
            .dynamic_link_require_all(true)
            .layout_tests(false)
            .generate()
    };
    // bindgen panics when it cannot load libclang: turn that into the message below too.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(generate);
    std::panic::set_hook(hook);
    let why = match result {
        Ok(Ok(bindings)) => {
            if let Err(e) = bindings.write_to_file(out.join("bindings.rs")) {
                fail(&format!(
                    "cannot write {}: {e}",
                    out.join("bindings.rs").display()
                ));
            }
            return;
        }
        Ok(Err(e)) => e.to_string(),
        Err(panic) => panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "bindgen panicked".into()),
    };
    fail(&format!(
        "bindgen failed on shim/xrd_shim.h: {why}. Is Debian's libclang-dev installed (or \
         LIBCLANG_PATH set)? {WITHOUT}"
    ))
}
