//! `berth build --check` end to end: real files, the real binary, Docker-style messages.

mod common;

use common::Berth;

fn write(dir: &std::path::Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn check_reports_errors_with_file_line_and_source() {
    let b = Berth::new();
    let ctx = tempfile::tempdir().unwrap();
    write(ctx.path(), "Dockerfile", "FROM busybox AS base\nRUN echo ok\n\nRUNN apt-get update\nFROM base as second\nMAINTAINER someone\n");
    let r = b.run(&["build", "--check", ctx.path().to_str().unwrap()]);
    assert_eq!(r.code, 1, "an error exits 1: {}", r.stdout);
    assert!(
        r.stdout.contains("Dockerfile:4: unknown instruction: RUNN (did you mean RUN?)\n    4 | RUNN apt-get update\n      | ^\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(
            "Dockerfile:5: warning: 'as' and 'FROM' keywords' casing do not match [FromAsCasing]"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("Dockerfile:6: warning: MAINTAINER instruction is deprecated"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .ends_with("Check complete, 1 error and 2 warnings have been found!\n"),
        "{}",
        r.stdout
    );
}

#[test]
fn check_passes_a_good_file_and_reads_dash_f() {
    let b = Berth::new();
    let ctx = tempfile::tempdir().unwrap();
    write(ctx.path(), "app.Dockerfile", "# syntax=docker/dockerfile:1\nARG PY=3.12\nFROM python:${PY}-slim AS base\nWORKDIR /app\nCOPY <<EOF /app/main.py\nprint('hi')\nEOF\nRUN --mount=type=cache,target=/root/.cache pip install kiwipiepy\nCMD [\"python\", \"main.py\"]\n");
    let f = ctx.path().join("app.Dockerfile");
    let r = b.run(&[
        "build",
        "--check",
        "-f",
        f.to_str().unwrap(),
        ctx.path().to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.stdout, "Check complete, no warnings found.\n");
    // Warnings alone do not fail the check.
    write(ctx.path(), "Dockerfile", "FROM busybox\nCMD a\nCMD b\n");
    let r = b.run(&["build", "--check", ctx.path().to_str().unwrap()]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout
            .contains("Dockerfile:3: warning: Multiple CMD instructions"),
        "{}",
        r.stdout
    );
}

#[test]
fn check_reports_syntax_errors_and_bad_ignore_files() {
    let b = Berth::new();
    let ctx = tempfile::tempdir().unwrap();
    write(
        ctx.path(),
        "Dockerfile",
        "FROM busybox\nCMD [ \"echo\", [ \"nested\" ] ]\n",
    );
    let r = b.run(&["build", "--check", ctx.path().to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.starts_with("Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only\n"), "{}", r.stdout);
    write(ctx.path(), "Dockerfile", "FROM busybox\n");
    write(ctx.path(), "Dockerfile.dockerignore", "ok\nbad[\n");
    write(ctx.path(), ".dockerignore", "fine\n");
    let r = b.run(&["build", "--check", ctx.path().to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("Dockerfile.dockerignore:2: invalid pattern \"bad[\""),
        "the per-Dockerfile ignore file wins: {}",
        r.stdout
    );
    let r = b.run(&["build", "--check", "/nonexistent-dir"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("unable to prepare context: path \"/nonexistent-dir\" not found"),
        "{}",
        r.stderr
    );
    // A build stops at the same bad ignore file, naming it and the line.
    let r = b.run(&["build", ctx.path().to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("Dockerfile.dockerignore:2: invalid pattern \"bad[\""),
        "{}",
        r.stderr
    );
}

#[test]
fn check_and_build_agree_on_flags() {
    // One typed list of flags serves both: what `--check` accepts the build accepts, and a
    // flag the build refuses `--check` reports with the same words.
    let b = Berth::new();
    let ctx = tempfile::tempdir().unwrap();
    let dir = ctx.path().to_str().unwrap();
    write(ctx.path(), "a", "a");
    write(
        ctx.path(),
        "Dockerfile",
        "FROM scratch\nADD --unpack=false --link a /a\nCOPY --chmod=0640 a /b\n",
    );
    let r = b.run(&["build", "--check", dir]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    b.run(&["build", "-q", dir]).ok();
    write(
        ctx.path(),
        "Dockerfile",
        "FROM scratch\nADD --from=x a /a\n",
    );
    let r = b.run(&["build", "--check", dir]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let flag_error = "unknown flag: --from (ADD accepts --chown, --chmod, --link, --checksum, --keep-git-dir, --exclude, --unpack)";
    assert!(
        r.stdout.contains(&format!("Dockerfile:2: {flag_error}")),
        "{}",
        r.stdout
    );
    let err = b.run(&["build", dir]).fails();
    assert!(
        err.contains(&format!("dockerfile parse error on line 2: {flag_error}")),
        "{err}"
    );
}
