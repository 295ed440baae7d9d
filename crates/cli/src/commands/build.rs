//! `berth build`. Until the builder lands only `--check` works: parse and check the
//! Dockerfile (and its .dockerignore) without building.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use berth_dockerfile::check::{check, Finding, Severity};
use berth_dockerfile::dockerignore::{ignore_file_candidates, DockerIgnore};
use clap::Args;

#[derive(Args)]
pub struct BuildArgs {
    /// Check the Dockerfile for problems without building
    #[arg(long)]
    check: bool,
    /// Name of the Dockerfile (default: PATH/Dockerfile)
    #[arg(short, long)]
    file: Option<PathBuf>,
    /// Name and optionally a tag in the "name:tag" format
    #[arg(short, long)]
    tag: Vec<String>,
    /// Set build-time variables
    #[arg(long = "build-arg")]
    build_arg: Vec<String>,
    /// Set the target build stage to build
    #[arg(long)]
    target: Option<String>,
    /// Do not use cache when building the image
    #[arg(long)]
    no_cache: bool,
    /// Build context directory
    #[arg(default_value = ".")]
    context: PathBuf,
}

pub fn build(a: BuildArgs) -> Result<u8> {
    if !a.check {
        bail!("building images is not available yet (the builder is its own issue); `berth build --check` checks a Dockerfile without building");
    }
    let file = a
        .file
        .clone()
        .unwrap_or_else(|| a.context.join("Dockerfile"));
    let shown = a
        .file
        .as_ref()
        .map(|f| f.display().to_string())
        .unwrap_or_else(|| "Dockerfile".into());
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("failed to read Dockerfile {}", file.display()))?;
    let mut findings = check(&text);
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    if let Some(e) = check_ignore_file(&a.context, &file) {
        out.push_str(&format!("{e}\n"));
        findings.push(Finding {
            severity: Severity::Error,
            rule: "DockerIgnore",
            line: 0,
            end_line: 0,
            column: 0,
            message: String::new(),
        });
    }
    for f in findings.iter().filter(|f| f.line > 0) {
        match f.severity {
            Severity::Error => out.push_str(&format!("{shown}:{}: {}\n", f.line, f.message)),
            Severity::Warning => out.push_str(&format!(
                "{shown}:{}: warning: {} [{}]\n",
                f.line, f.message, f.rule
            )),
        }
        for n in f.line..=f.end_line.min(f.line + 4) {
            if let Some(l) = lines.get(n - 1) {
                out.push_str(&format!("{n:>5} | {l}\n"));
                // The column of the offending text, under the first line.
                if n == f.line && f.column > 0 {
                    out.push_str(&format!("      | {}^\n", " ".repeat(f.column - 1)));
                }
            }
        }
    }
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = findings.len() - errors;
    let plural = |n: usize, w: &str| {
        if n == 1 {
            format!("1 {w}")
        } else {
            format!("{n} {w}s")
        }
    };
    let summary = match (errors, warnings) {
        (0, 0) => "Check complete, no warnings found.".to_string(),
        (0, w) => format!(
            "Check complete, {} been found!",
            plural(w, "warning") + if w == 1 { " has" } else { " have" }
        ),
        (e, 0) => format!(
            "Check complete, {} been found!",
            plural(e, "error") + if e == 1 { " has" } else { " have" }
        ),
        (e, w) => format!(
            "Check complete, {} and {} have been found!",
            plural(e, "error"),
            plural(w, "warning")
        ),
    };
    print!("{out}");
    println!("{summary}");
    Ok(if errors > 0 { 1 } else { 0 })
}

/// Reads the ignore file that applies (`NAME.dockerignore` beside the Dockerfile, else
/// `.dockerignore` in the context) and returns its first error.
fn check_ignore_file(context: &Path, dockerfile: &Path) -> Option<String> {
    let name = dockerfile.file_name()?.to_str()?;
    for cand in ignore_file_candidates(name) {
        let path = if cand == ".dockerignore" {
            context.join(&cand)
        } else {
            dockerfile.with_file_name(&cand)
        };
        if let Ok(text) = std::fs::read_to_string(&path) {
            return DockerIgnore::parse(&text, &path.display().to_string())
                .err()
                .map(|e| e.to_string());
        }
    }
    None
}
