//! End-to-end test of `stats --no-stream`: CPU % from two samples as the docker CLI computes
//! it, memory against the limit, network and block I/O bytes, and `--format`/`--no-trunc`
//! with Docker's placeholders.

mod common;

use common::Berth;

#[test]
fn root_stats_show_cpu_memory_and_network() {
    let b = Berth::new();
    b.import_busybox("busybox");
    b.run(&[
        "run",
        "-d",
        "--name",
        "spin",
        "-m",
        "64m",
        "busybox",
        "sh",
        "-c",
        "while true; do :; done",
    ])
    .ok();
    b.run(&["run", "-d", "--name", "idle", "busybox", "sleep", "300"])
        .ok();
    let out = b.run(&["stats", "--no-stream", "spin", "idle"]).ok();
    let row = |name: &str| -> Vec<String> {
        let line = out
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(name))
            .unwrap_or_else(|| panic!("{name}: {out}"));
        line.split("   ")
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let spin = row("spin");
    let cpu: f64 = spin[2].trim_end_matches('%').parse().unwrap();
    assert!(cpu > 40.0, "a busy loop uses a CPU: {out}");
    assert!(spin[3].ends_with("/ 64MiB"), "{out}");
    let idle = row("idle");
    let cpu: f64 = idle[2].trim_end_matches('%').parse().unwrap();
    assert!(cpu < 20.0, "{out}");
    // Bytes in both directions of the container's eth0 (the bridge's traffic), never "--".
    assert!(idle[5].ends_with('B') && idle[5].contains("B / "), "{out}");
    // Block I/O read and written, as Docker sums them (no longer "--").
    assert!(idle[6].ends_with('B') && idle[6].contains("B / "), "{out}");
    // Docker's placeholders through --format, --no-trunc, json and a table of one's own.
    let f = |args: &[&str]| {
        let mut all = vec!["stats", "--no-stream"];
        all.extend_from_slice(args);
        b.run(&all).ok()
    };
    assert_eq!(
        f(&["--format", "{{.Name}} {{.PIDs}} {{.Container}}", "idle"]).trim(),
        "idle 1 idle"
    );
    assert_eq!(
        f(&["--no-trunc", "--format", "{{.ID}}", "idle"])
            .trim()
            .len(),
        64
    );
    let j = common::json(&f(&["--format", "json", "idle"]));
    assert!(j["MemPerc"].as_str().unwrap().ends_with('%'), "{j}");
    assert!(j["CPUPerc"].as_str().unwrap().ends_with('%'), "{j}");
    let t = f(&[
        "--format",
        "table {{.Name}}\t{{.MemPerc}}\t{{.BlockIO}}",
        "idle",
    ]);
    let header: Vec<&str> = t
        .lines()
        .next()
        .unwrap()
        .split("  ")
        .filter(|s| !s.is_empty())
        .map(str::trim)
        .collect();
    assert_eq!(header, ["NAME", "MEM %", "BLOCK I/O"], "{t}");
    b.run(&["rm", "-f", "spin", "idle"]).ok();
}
