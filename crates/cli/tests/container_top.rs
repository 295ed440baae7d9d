//! End-to-end test of `top`: only the container's processes, Docker's column layout, ps
//! options passed through, a stopped container refused.

mod common;

use common::Berth;

#[test]
fn root_top_lists_only_the_containers_processes() {
    let b = Berth::new();
    b.import_busybox("busybox");
    b.run(&[
        "run",
        "-d",
        "--name",
        "tops",
        "busybox",
        "sh",
        "-c",
        "sleep 301 & sleep 302",
    ])
    .ok();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let top = b.run(&["top", "tops"]).ok();
    let lines: Vec<&str> = top.lines().collect();
    assert!(
        lines[0].starts_with("UID                 PID                 PPID"),
        "{top}"
    );
    let cmds: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.rsplit("   ").next().unwrap().trim())
        .collect();
    assert!(
        cmds.contains(&"sleep 301") && cmds.contains(&"sleep 302"),
        "{top}"
    );
    assert!(lines.len() <= 4, "nothing of the host's: {top}");
    let pids = b.run(&["top", "tops", "-o", "pid,comm"]).ok();
    assert!(pids.starts_with("PID"), "{pids}");
    assert_eq!(
        pids.lines().filter(|l| l.ends_with("sleep")).count(),
        2,
        "{pids}"
    );
    b.run(&["stop", "-t", "0", "tops"]).ok();
    let err = b.run(&["top", "tops"]).fails();
    assert!(err.contains("is not running"), "{err}");
    b.run(&["rm", "tops"]).ok();
}
