//! Builds the web app in `web/` with its own toolchain (npm + Vite) into OUT_DIR and writes
//! `assets.rs`, which embeds every built file, so the binary serves the dashboard with
//! nothing to install beside it. `npm ci` runs first when `node_modules` is missing or
//! older than the lock file.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() -> Result<(), String> {
    let web =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?).join("web");
    for watched in [
        "src",
        "index.html",
        "package.json",
        "package-lock.json",
        "vite.config.js",
    ] {
        println!("cargo:rerun-if-changed=web/{watched}");
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(|e| e.to_string())?);
    let dist = out.join("dist");
    if stale(
        &web.join("node_modules/.package-lock.json"),
        &web.join("package-lock.json"),
    ) {
        npm(&web, &["ci", "--no-audit", "--no-fund", "--loglevel=error"])?;
    }
    let dist_arg = dist.to_str().ok_or("OUT_DIR is not UTF-8")?;
    npm(
        &web,
        &[
            "run",
            "build",
            "--",
            "--outDir",
            dist_arg,
            "--emptyOutDir",
            "--logLevel",
            "warn",
        ],
    )?;
    let mut files = Vec::new();
    collect(&dist, &dist, &mut files)?;
    files.sort();
    let mut code = String::from("/// The built web app: (path under `/`, contents).\npub static FILES: &[(&str, &[u8])] = &[\n");
    for rel in &files {
        let abs = dist.join(rel);
        code.push_str(&format!(
            "    ({:?}, include_bytes!({:?})),\n",
            format!("/{rel}"),
            abs.to_str().ok_or("a built file's path is not UTF-8")?
        ));
    }
    code.push_str("];\n");
    std::fs::write(out.join("assets.rs"), code).map_err(|e| format!("writing assets.rs: {e}"))
}

/// Whether `made` is missing or older than `from`.
fn stale(made: &Path, from: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(made), modified(from)) {
        (Some(m), Some(f)) => m < f,
        _ => true,
    }
}

fn npm(dir: &Path, args: &[&str]) -> Result<(), String> {
    let status = Command::new("npm")
        .args(args)
        .current_dir(dir)
        .status()
        .map_err(|e| {
            format!(
                "the dashboard is built with npm, which could not be run ({e}): install Node.js and npm (bash scripts/deps.sh does)"
            )
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "`npm {}` in {} failed ({status})",
            args.join(" "),
            dir.display()
        ))
    }
}

fn collect(base: &Path, dir: &Path, files: &mut Vec<String>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            collect(base, &path, files)?;
        } else {
            let rel = path.strip_prefix(base).map_err(|e| e.to_string())?;
            files.push(
                rel.to_str()
                    .ok_or("a built file's name is not UTF-8")?
                    .to_string(),
            );
        }
    }
    Ok(())
}
