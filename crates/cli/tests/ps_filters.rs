//! End-to-end tests of `ps --filter` with Docker's keys and rules: values of one key are
//! alternatives, keys must all match, a status filter looks at stopped containers too.

mod common;

use common::Berth;

fn names(b: &Berth, args: &[&str]) -> Vec<String> {
    let mut full = vec!["ps", "--format", "{{.Names}}"];
    full.extend_from_slice(args);
    let mut v: Vec<String> = b.run(&full).ok().lines().map(str::to_string).collect();
    v.sort();
    v
}

#[test]
fn root_ps_filters_as_docker() {
    let b = Berth::new();
    b.import_busybox("busybox");
    // Networks are machine-wide: drop one a failed earlier run left.
    let _ = b.run(&["network", "rm", "psfnet"]);
    b.run(&["network", "create", "psfnet"]).ok();
    b.run(&[
        "create", "--name", "made", "--label", "tier=web", "busybox", "true",
    ])
    .ok();
    b.run(&["run", "--name", "ok", "busybox", "true"]).ok();
    let r = b.run(&["run", "--name", "failed", "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(r.code, 3);
    b.run(&[
        "run",
        "-d",
        "--name",
        "up",
        "--network",
        "psfnet",
        "-v",
        "psfvol:/data",
        "--label",
        "tier=db",
        "busybox",
        "sleep",
        "300",
    ])
    .ok();

    assert_eq!(names(&b, &[]), ["up"]);
    // One key's values are alternatives; a status filter needs no -a.
    assert_eq!(
        names(
            &b,
            &["--filter", "status=exited", "--filter", "status=created"]
        ),
        ["failed", "made", "ok"]
    );
    assert_eq!(names(&b, &["-a", "--filter", "exited=3"]), ["failed"]);
    assert_eq!(names(&b, &["-a", "--filter", "exited=0"]), ["ok"]);
    // Keys must all match.
    assert_eq!(names(&b, &["-a", "--filter", "label=tier"]), ["made", "up"]);
    assert_eq!(
        names(
            &b,
            &["-a", "--filter", "label=tier", "--filter", "status=running"]
        ),
        ["up"]
    );
    assert_eq!(names(&b, &["-a", "--filter", "label=tier=web"]), ["made"]);
    // Label filters are the exception: each must match (compose finds a service this way).
    assert_eq!(
        names(
            &b,
            &["-a", "--filter", "label=tier", "--filter", "label=tier=db"]
        ),
        ["up"]
    );
    assert_eq!(names(&b, &["--filter", "network=psfnet"]), ["up"]);
    assert_eq!(names(&b, &["--filter", "volume=psfvol"]), ["up"]);
    assert_eq!(names(&b, &["--filter", "volume=/data"]), ["up"]);
    assert_eq!(names(&b, &["-a", "--filter", "name=fail"]), ["failed"]);
    assert_eq!(names(&b, &["-a", "--filter", "ancestor=busybox"]).len(), 4);
    assert_eq!(names(&b, &["--filter", "health=none"]), ["up"]);
    // before/since: by creation order, relative to a named container.
    assert_eq!(names(&b, &["-a", "--filter", "before=ok"]), ["made"]);
    assert_eq!(names(&b, &["-a", "--filter", "since=failed"]), ["up"]);
    let id = b
        .run(&["ps", "-q", "--no-trunc", "--filter", "name=up"])
        .ok();
    assert_eq!(
        names(&b, &["--filter", &format!("id={}", &id[..8])]),
        ["up"]
    );
    // -n and -l count after filtering, newest first.
    assert_eq!(names(&b, &["-n", "2"]), ["failed", "up"]);
    assert_eq!(names(&b, &["-l", "--filter", "status=exited"]), ["failed"]);

    // Bad filters are refused with Docker's words.
    for (filter, want) in [
        ("color=red", "invalid filter 'color'"),
        ("status=sleeping", "invalid filter 'status=sleeping'"),
        ("exited=x", "invalid filter 'exited=x'"),
        ("health=bad", "Unrecognised filter value for health: bad"),
        ("before=nobody", "No such container: nobody"),
        (
            "status",
            "bad format of filter (expected name=value): status",
        ),
    ] {
        let err = b.run(&["ps", "--filter", filter]).fails();
        assert_eq!(err.trim(), format!("Error: {want}"), "{filter}");
    }
    b.run(&["rm", "-f", "up"]).ok();
    b.run(&["network", "rm", "psfnet"]).ok();
}
