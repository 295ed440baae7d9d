//! Builds berth-init (the `--init` process) as a static executable to embed in berth.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let bin = out.join("berth-init");
    println!("cargo:rerun-if-changed=init/berth-init.c");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let ok = Command::new(&cc)
        .args(["-static", "-Os", "-s", "-o"])
        .arg(&bin)
        .arg("init/berth-init.c")
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        // Keep berth buildable without a static C library; `--init` then says what is missing.
        println!("cargo:warning=could not build berth-init statically with {cc}; `berth run --init` will be unavailable");
        std::fs::write(&bin, b"").expect("write placeholder");
    }
}
