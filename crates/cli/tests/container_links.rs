//! End-to-end tests of links (`--link`): legacy links on the default bridge (environment,
//! /etc/hosts, names, `rm --link`) and links scoped to a user-defined network (DNS for the
//! linking container alone). Root only; they talk to berth's bridges only.

mod common;

use common::{json, Berth, NetworkGuard};

fn busybox() -> Berth {
    let b = Berth::new();
    b.import_busybox("busybox");
    b
}

#[test]
fn root_a_legacy_link_gives_environment_hosts_and_a_name() {
    let b = busybox();
    let tag = format!("lk{}", std::process::id());
    let db = format!("{tag}-db");
    let web = format!("{tag}-web");
    b.run(&[
        "run",
        "-d",
        "--name",
        &db,
        "-e",
        "SECRET=s3",
        "--expose",
        "5432",
        "--hostname",
        "dbhost",
        "busybox",
        "sleep",
        "60",
    ])
    .ok();
    let db_ip = b.inspect(&db)["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    b.run(&[
        "create",
        "--name",
        &web,
        "--link",
        &format!("{db}:my-db"),
        "-e",
        "MY_DB_ENV_SECRET=mine",
        "busybox",
        "sh",
        "-c",
        "env | grep '^MY_DB_' | sort; grep my-db /etc/hosts",
    ])
    .ok();
    b.run(&["start", &web]).ok();
    assert_eq!(b.run(&["wait", &web]).ok().trim(), "0");
    let out = b.run(&["logs", &web]).ok();
    let want = format!(
        "MY_DB_ENV_SECRET=mine\nMY_DB_NAME=/{web}/my-db\n\
         MY_DB_PORT=tcp://{db_ip}:5432\nMY_DB_PORT_5432_TCP=tcp://{db_ip}:5432\n\
         MY_DB_PORT_5432_TCP_ADDR={db_ip}\nMY_DB_PORT_5432_TCP_PORT=5432\n\
         MY_DB_PORT_5432_TCP_PROTO=tcp\n{db_ip}\tmy-db dbhost {db}\n"
    );
    assert_eq!(
        out, want,
        "the container's own MY_DB_ENV_SECRET wins over the link's"
    );
    // Docker's names for it: inspect shows the link, the linked container answers to
    // WEB/my-db, and ps lists that name with --no-trunc only.
    assert_eq!(
        b.inspect(&web)["HostConfig"]["Links"],
        serde_json::json!([format!("/{db}:/{web}/my-db")])
    );
    let db_id = b.inspect(&db)["Id"].as_str().unwrap().to_string();
    assert_eq!(
        b.run(&["inspect", "-f", "{{.Id}}", &format!("{web}/my-db")])
            .ok()
            .trim(),
        db_id
    );
    let filter = format!("name={db}");
    let names = |extra: &[&str]| {
        let mut args = vec![
            "ps",
            "-a",
            "--filter",
            filter.as_str(),
            "--format",
            "{{.Names}}",
        ];
        args.extend_from_slice(extra);
        b.run(&args).ok().trim().to_string()
    };
    assert_eq!(names(&[]), db);
    assert_eq!(names(&["--no-trunc"]), format!("{db},{web}/my-db"));
    // A stopped linked container refuses the start, as with Docker.
    b.run(&["stop", "-t", "0", &db]).ok();
    let e = b.run(&["start", &web]).fails();
    assert!(
        e.contains(&format!(
            "Cannot link to a non running container: /{db} AS /{web}/my-db"
        )),
        "{e}"
    );
    // rm --link drops the link only; then the container starts without it.
    let e = b.run(&["rm", "--link", &db]).fails();
    assert!(e.contains("cannot remove the default link name"), "{e}");
    b.run(&["rm", "--link", &format!("/{web}/my-db")]).ok();
    assert!(b.run(&["inspect", &db]).ok().contains(&db_id));
    assert_eq!(
        b.inspect(&web)["HostConfig"]["Links"],
        serde_json::Value::Null
    );
    b.run(&["start", &web]).ok();
    assert_eq!(
        b.run(&["wait", &web]).ok().trim(),
        "1",
        "grep finds no my-db"
    );
    b.run(&["rm", "-f", &web, &db]).ok();
}

#[test]
fn root_links_are_checked_at_create() {
    let b = busybox();
    let e = b
        .run(&["create", "--link", "a:b:c", "busybox", "true"])
        .fails();
    assert!(e.contains("bad format for links: a:b:c"), "{e}");
    assert!(e.contains("--link"), "{e}");
    let e = b
        .run(&[
            "create",
            "--link",
            "no-such-container-here:x",
            "busybox",
            "true",
        ])
        .fails();
    assert!(
        e.contains("could not get container for no-such-container-here"),
        "{e}"
    );
    let other = b
        .run(&["create", "busybox", "true"])
        .ok()
        .trim()
        .to_string();
    let e = b
        .run(&[
            "create",
            "--network",
            "host",
            "--link",
            &other,
            "busybox",
            "true",
        ])
        .fails();
    assert!(
        e.contains("host type networking can't be used with links"),
        "{e}"
    );
    // The linked container's removal takes the link with it.
    let parent = b
        .run(&[
            "create",
            "--link",
            &format!("{other}:peer"),
            "busybox",
            "true",
        ])
        .ok()
        .trim()
        .to_string();
    b.run(&["rm", &other]).ok();
    assert_eq!(
        b.inspect(&parent)["HostConfig"]["Links"],
        serde_json::Value::Null
    );
    b.run(&["rm", &parent]).ok();
    // Nothing was left by the refused ones.
    assert_eq!(b.run(&["ps", "-aq"]).ok(), "");
}

#[test]
fn root_a_link_on_a_user_network_resolves_for_its_container_only() {
    let net = format!("lkn{}", std::process::id());
    let _cleanup = NetworkGuard(net.clone());
    let b = busybox();
    b.run(&["network", "create", &net]).ok();
    let target = format!("{net}-up");
    // The link may name a container that does not exist yet (Docker resolves it on lookup).
    let client = b
        .run(&[
            "run",
            "-d",
            "--network",
            &net,
            "--link",
            &format!("{target}:bar"),
            "busybox",
            "sleep",
            "60",
        ])
        .ok()
        .trim()
        .to_string();
    assert_eq!(
        b.inspect(&client)["NetworkSettings"]["Networks"][&net]["Links"],
        serde_json::json!([format!("{target}:bar")])
    );
    b.run(&[
        "run",
        "-d",
        "--name",
        &target,
        "--network",
        &net,
        "busybox",
        "sleep",
        "60",
    ])
    .ok();
    let ip = b.inspect(&target)["NetworkSettings"]["Networks"][&net]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    let lookup = "nslookup bar | tail -n +3 | grep -oE '[0-9.]+$' || echo none";
    assert_eq!(
        b.run(&["exec", &client, "sh", "-c", lookup]).ok().trim(),
        ip
    );
    // Another container on the network does not know the alias.
    let out = b
        .run(&[
            "run",
            "--rm",
            "--network",
            &net,
            "busybox",
            "sh",
            "-c",
            lookup,
        ])
        .ok();
    assert_eq!(out.trim(), "none");
    // Links given at connect work the same way.
    let late = b
        .run(&["run", "-d", "busybox", "sleep", "60"])
        .ok()
        .trim()
        .to_string();
    b.run(&[
        "network",
        "connect",
        "--link",
        &format!("{target}:baz"),
        &net,
        &late,
    ])
    .ok();
    // (Connected after its start: its resolv.conf still names the host's servers.)
    let gw = json(&b.run(&["network", "inspect", &net]).ok())[0]["IPAM"]["Config"][0]["Gateway"]
        .as_str()
        .unwrap()
        .to_string();
    let lookup = format!("nslookup baz {gw} | tail -n +3 | grep -oE '[0-9.]+$' || echo none");
    assert_eq!(b.run(&["exec", &late, "sh", "-c", &lookup]).ok().trim(), ip);
    b.run(&["rm", "-f", &client, &target, &late]).ok();
}
