//! End-to-end tests of `berth events`: what the CLI and the supervisors did, from the
//! journal (`--since`/`--until`) and live, with Docker's filters and `--format`.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::registry_server::Registry;
use common::Berth;

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

#[test]
fn root_events_are_followed_live_with_filters() {
    let b = Berth::new();
    b.import_busybox("busybox");
    let mut follow = b
        .cmd(&[
            "events",
            "--filter",
            "type=container",
            "--filter",
            "container=evc",
            "--format",
            "{{.Action}} {{.Actor.Attributes.name}}",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Give the follower a moment to open the journal, then act.
    std::thread::sleep(Duration::from_millis(300));
    let r = b.run(&[
        "run", "--rm", "--name", "evc", "busybox", "sh", "-c", "exit 3",
    ]);
    assert_eq!(r.code, 3);
    b.run(&["run", "--rm", "--name", "other", "busybox", "true"])
        .ok();
    let mut lines = Vec::new();
    let mut reader = BufReader::new(follow.stdout.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(10);
    while lines.len() < 4 && Instant::now() < deadline {
        let mut l = String::new();
        if reader.read_line(&mut l).unwrap_or(0) == 0 {
            break;
        }
        lines.push(l.trim_end().to_string());
    }
    let _ = follow.kill();
    let _ = follow.wait();
    assert_eq!(
        lines,
        ["create evc", "start evc", "die evc", "destroy evc"],
        "only evc's events, in order"
    );
}

#[test]
fn root_events_since_until_cover_images_volumes_networks() {
    let b = Berth::new();
    b.import_busybox("busybox");
    let _ = b.run(&["network", "rm", "evnet"]);
    let since = now();
    b.run(&["tag", "busybox", "evimg:1"]).ok();
    b.run(&["rmi", "evimg:1"]).ok();
    b.run(&["volume", "create", "evvol"]).ok();
    b.run(&["volume", "rm", "evvol"]).ok();
    b.run(&["network", "create", "evnet"]).ok();
    b.run(&["create", "--name", "evc2", "busybox", "true"]).ok();
    b.run(&["network", "connect", "evnet", "evc2"]).ok();
    b.run(&["network", "disconnect", "evnet", "evc2"]).ok();
    b.run(&["network", "rm", "evnet"]).ok();
    b.run(&["rename", "evc2", "evc3"]).ok();
    b.run(&["rm", "evc3"]).ok();
    let until = now();
    // Nothing outside the window.
    assert!(b
        .run(&["events", "--since", &until, "--until", &now()])
        .ok()
        .is_empty());
    let events = |format: &str, filters: &[&str]| -> Vec<String> {
        let mut args = vec![
            "events", "--since", &since, "--until", &until, "--format", format,
        ];
        for f in filters {
            args.push("--filter");
            args.push(f);
        }
        b.run(&args).ok().lines().map(str::to_string).collect()
    };
    let by_name = "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}";
    assert_eq!(
        events(by_name, &["type=image"]),
        ["image tag evimg:1", "image untag evimg:1"]
    );
    assert_eq!(
        events("{{.Action}} {{.Actor.ID}}", &["type=volume"]),
        ["create evvol", "destroy evvol"]
    );
    assert_eq!(
        events(by_name, &["network=evnet"]),
        [
            "network create evnet",
            "network connect evnet",
            "network disconnect evnet",
            "network destroy evnet"
        ]
    );
    // Values of one key are alternatives; keys must all match.
    assert_eq!(
        events(
            by_name,
            &["type=container", "event=rename", "event=destroy"]
        ),
        ["container rename evc3", "container destroy evc3"]
    );
    assert_eq!(
        events("{{.Actor.Attributes.oldName}}", &["event=rename"]),
        ["/evc2"]
    );
    let r = b.run(&["run", "--name", "ex", "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(r.code, 3);
    let exits = b
        .run(&[
            "events",
            "--since",
            &since,
            "--until",
            &now(),
            "--filter",
            "event=die",
            "--format",
            "{{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}}",
        ])
        .ok();
    assert_eq!(exits.trim(), "ex 3");
    b.run(&["rm", "ex"]).ok();
    // Docker's default line: time, type, action, ID and the attributes.
    let line = b
        .run(&[
            "events",
            "--since",
            &since,
            "--until",
            &until,
            "--filter",
            "event=tag",
        ])
        .ok();
    let fields: Vec<&str> = line.trim().splitn(4, ' ').collect();
    assert!(
        fields[0].ends_with('Z') && fields[0].contains('T'),
        "{line}"
    );
    assert_eq!(&fields[1..3], ["image", "tag"], "{line}");
    assert!(fields[3].ends_with("(name=evimg:1)"), "{line}");
    let err = b.run(&["events", "--filter", "colour=red"]).fails();
    assert_eq!(err.trim(), "Error: invalid filter 'colour'");
}

/// What one terminal's `berth events` shows while another runs, stops, removes, pulls,
/// builds and makes a network (the "done when"), and the lifecycle events beyond
/// them: pause, unpause, kill, exec_create/exec_start/exec_die of `exec -d`, health_status.
#[test]
fn root_a_follower_sees_what_other_commands_do() {
    let b = Berth::new();
    b.import_busybox("busybox");
    let reg = Registry::start(None);
    let remote = format!("{}/evt/bb:1", reg.host());
    b.run(&["tag", "busybox", &remote]).ok();
    b.run(&["push", "-q", &remote]).ok();
    b.run(&["rmi", &remote]).ok();
    let _ = b.run(&["network", "rm", "evlive"]);
    let mut follow = b
        .cmd(&["events", "--format", "{{.Type}} {{.Action}}"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(ctx.path().join("Dockerfile"), "FROM busybox\nRUN true\n").unwrap();
    b.run(&[
        "run",
        "-d",
        "--name",
        "live",
        "--health-cmd",
        "true",
        "--health-interval",
        "100ms",
        "busybox",
        "sleep",
        "300",
    ])
    .ok();
    // Healthy after the first probe.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !b
        .run(&["ps", "--format", "{{.Status}}"])
        .ok()
        .contains("(healthy)")
    {
        assert!(Instant::now() < deadline, "never healthy");
        std::thread::sleep(Duration::from_millis(50));
    }
    b.run(&["exec", "-d", "live", "true"]).ok();
    b.run(&["pause", "live"]).ok();
    b.run(&["unpause", "live"]).ok();
    b.run(&["stop", "-t", "1", "live"]).ok();
    b.run(&["rm", "live"]).ok();
    b.run(&["pull", "-q", &remote]).ok();
    b.run(&["build", "-q", "-t", "evbuilt", ctx.path().to_str().unwrap()])
        .ok();
    b.run(&["network", "create", "evlive"]).ok();
    b.run(&["network", "rm", "evlive"]).ok();
    let want = [
        "container create",
        "container start",
        "container health_status: healthy",
        "container exec_create: true",
        "container exec_start: true",
        "container exec_die",
        "container pause",
        "container unpause",
        "container kill",
        "container die",
        "container stop",
        "container destroy",
        "image pull",
        "image build",
        "network create",
        "network destroy",
    ];
    let mut seen = Vec::new();
    let mut reader = BufReader::new(follow.stdout.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !seen.ends_with(&["network destroy".to_string()]) && Instant::now() < deadline {
        let mut l = String::new();
        if reader.read_line(&mut l).unwrap_or(0) == 0 {
            break;
        }
        seen.push(l.trim_end().to_string());
    }
    let _ = follow.kill();
    let _ = follow.wait();
    // In this order (other events, such as the build's RUN container's, come between).
    let mut at = 0;
    for w in want {
        match seen[at..].iter().position(|s| s == w) {
            Some(i) => at += i + 1,
            None => panic!("{w:?} missing or out of order in {seen:#?}"),
        }
    }
}

/// A container's volumes are announced as Docker does: `mount` as it starts (with where and
/// how), `unmount` once it has ended.
#[test]
fn root_volumes_are_mounted_and_unmounted_with_their_container() {
    let b = Berth::new();
    b.import_busybox("busybox");
    let since = now();
    b.run(&["run", "--rm", "-v", "evdata:/data:ro", "busybox", "true"])
        .ok();
    let until = now();
    let events = |filter: &str, format: &str| -> Vec<String> {
        b.run(&[
            "events",
            "--since",
            &since,
            "--until",
            &until,
            "--filter",
            "type=volume",
            "--filter",
            filter,
            "--format",
            format,
        ])
        .ok()
        .lines()
        .map(str::to_string)
        .collect()
    };
    assert_eq!(
        events("volume=evdata", "{{.Action}} {{.Actor.ID}}"),
        ["create evdata", "mount evdata", "unmount evdata"]
    );
    let how = "{{.Actor.Attributes.destination}} {{index .Actor.Attributes \"read/write\"}} {{.Actor.Attributes.driver}}";
    assert_eq!(events("event=mount", how), ["/data false local"]);
    b.run(&["volume", "rm", "evdata"]).ok();
}
