//! `casa_plugin.h` compiles as C and C++, and its random-number functions draw exactly the
//! numbers of the Rust SDK (so C++ and Rust plugins smear alike).

use std::path::{Path, PathBuf};
use std::process::Command;

use casa_plugin::random::{philox4x32_10, Rng};

fn include_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("include")
}

const PROGRAM: &str = r#"
#include <casa_plugin.h>
#include <stdio.h>
int main(void) {
  uint32_t ctr[4] = {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u};
  uint32_t key[2] = {0xa4093822u, 0x299f31d0u}, out[4];
  casa_philox4x32_10(ctr, key, out);
  printf("%08x %08x %08x %08x\n", out[0], out[1], out[2], out[3]);
  casa_rng r = casa_rng_new("9f1c0a2e-5b7d-11ee-8c99-0242ac120002", "jer");
  for (uint64_t e = 0; e < 50; ++e)
    for (uint32_t j = 0; j < 3; ++j)
      printf("%a %a\n", casa_rng_uniform(&r, e * 977 + (e << 33), j),
             casa_rng_normal(&r, e * 977 + (e << 33), j));
  return 0;
}
"#;

fn compile_and_run(compiler: &str, ext: &str, flags: &[&str]) -> String {
    let dir = tempfile_dir();
    let src = dir.join(format!("rng.{ext}"));
    std::fs::write(&src, PROGRAM).unwrap();
    let exe = dir.join(format!("rng-{compiler}"));
    let st = Command::new(compiler)
        .args(flags)
        .arg("-I")
        .arg(include_dir())
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .arg("-lm")
        .status()
        .unwrap_or_else(|e| panic!("{compiler}: {e}"));
    assert!(st.success(), "{compiler} failed on casa_plugin.h");
    let o = Command::new(&exe).output().unwrap();
    assert!(o.status.success());
    String::from_utf8(o.stdout).unwrap()
}

fn tempfile_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("casa-c-header-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// C's `%a` hex float, as printf writes it for a normal double.
fn hex(x: f64) -> String {
    if x == 0.0 {
        return "0x0p+0".into();
    }
    let bits = x.to_bits();
    let sign = if bits >> 63 == 1 { "-" } else { "" };
    let exp = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut mant = format!("{:013x}", bits & ((1 << 52) - 1));
    while mant.ends_with('0') {
        mant.pop();
    }
    let dot = if mant.is_empty() { "" } else { "." };
    format!("{sign}0x1{dot}{mant}p{exp:+}")
}

fn expected() -> String {
    let mut s = String::new();
    let o = philox4x32_10(
        [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
        [0xa4093822, 0x299f31d0],
    );
    s += &format!("{:08x} {:08x} {:08x} {:08x}\n", o[0], o[1], o[2], o[3]);
    let r = Rng::new("9f1c0a2e-5b7d-11ee-8c99-0242ac120002", "jer");
    for e in 0u64..50 {
        for j in 0..3 {
            let entry = (e * 977 + (e << 33)) as usize;
            s += &format!("{} {}\n", hex(r.uniform(entry, j)), hex(r.normal(entry, j)));
        }
    }
    s
}

#[test]
fn c_and_rust_draw_the_same_numbers() {
    let want = expected();
    // The known answer first: both sides implement Philox as Random123 does.
    assert!(want.starts_with("d16cfe09 94fdcceb 5001e420 24126ea1\n"));
    let c = compile_and_run(
        "gcc",
        "c",
        &["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror"],
    );
    assert_eq!(c, want, "C (gcc)");
    let cpp = compile_and_run(
        "g++",
        "cpp",
        &["-std=c++17", "-O2", "-Wall", "-Wextra", "-Werror"],
    );
    assert_eq!(cpp, want, "C++ (g++)");
    let _ = std::fs::remove_dir_all(tempfile_dir());
}
