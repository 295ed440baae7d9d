//! End-to-end tests of the generic `inspect`: it finds containers, images, networks and
//! volumes (in Docker's order), `--type` narrows it with Docker's messages, and `-s` adds the
//! container's sizes.

mod common;

use common::Berth;

#[test]
fn root_inspect_finds_every_kind_of_object() {
    let b = Berth::new();
    b.import_busybox("busybox");
    // Networks are machine-wide: drop one a failed earlier run left.
    let _ = b.run(&["network", "rm", "insnet"]);
    b.run(&["network", "create", "insnet"]).ok();
    b.run(&["volume", "create", "insvol"]).ok();
    b.run(&["create", "--name", "insctr", "busybox", "true"])
        .ok();
    let out = b
        .run(&[
            "inspect",
            "--format",
            "{{.Name}}|{{.Driver}}",
            "insnet",
            "insvol",
            "insctr",
        ])
        .ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(lines, ["insnet|bridge", "insvol|local", "/insctr|overlay"]);
    let json: serde_json::Value =
        serde_json::from_str(&b.run(&["inspect", "insvol"]).ok()).unwrap();
    assert_eq!(json[0]["Name"], "insvol");
    assert!(json[0]["Mountpoint"]
        .as_str()
        .unwrap()
        .ends_with("/insvol/_data"));

    // --type narrows the search, with Docker's wording for what is missing.
    let r = b.run(&["inspect", "--type", "volume", "insnet"]);
    assert_eq!(r.code, 1);
    assert_eq!(r.stderr.trim(), "Error: No such volume: insnet");
    assert_eq!(r.stdout.trim(), "[]");
    let r = b.run(&[
        "inspect",
        "--type",
        "network",
        "--format",
        "{{.Name}}",
        "insnet",
    ]);
    assert_eq!(r.stdout.trim(), "insnet", "{}", r.stderr);
    let r = b.run(&["inspect", "nothing-by-this-name"]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr.trim(),
        "Error: No such object: nothing-by-this-name"
    );
    let err = b.run(&["inspect", "--type", "bogus", "x"]).fails();
    assert!(
        err.contains(r#"unknown type: "bogus": must be one of "config", "container""#),
        "{err}"
    );
    // volume inspect takes --format too.
    let out = b
        .run(&["volume", "inspect", "-f", "{{.Name}} {{.Scope}}", "insvol"])
        .ok();
    assert_eq!(out.trim(), "insvol local");
    b.run(&["rm", "insctr"]).ok();
    b.run(&["network", "rm", "insnet"]).ok();
}

#[test]
fn root_inspect_size_reports_the_writable_layer_and_the_whole_rootfs() {
    let b = Berth::new();
    b.import_busybox("busybox");
    b.run(&[
        "run",
        "--name",
        "sized",
        "busybox",
        "dd",
        "if=/dev/zero",
        "of=/blob",
        "bs=1024",
        "count=300",
    ])
    .ok();
    let plain: serde_json::Value =
        serde_json::from_str(&b.run(&["inspect", "sized"]).ok()).unwrap();
    assert!(plain[0].get("SizeRw").is_none(), "sizes only with -s");
    for args in [
        vec!["inspect", "-s", "sized"],
        vec!["container", "inspect", "--size", "sized"],
    ] {
        let v: serde_json::Value = serde_json::from_str(&b.run(&args).ok()).unwrap();
        let rw = v[0]["SizeRw"].as_u64().expect("SizeRw");
        let rootfs = v[0]["SizeRootFs"].as_u64().expect("SizeRootFs");
        assert!(
            (300 * 1024..400 * 1024).contains(&rw),
            "{args:?}: SizeRw {rw}"
        );
        let image: u64 = b
            .run(&["image", "inspect", "--format", "{{.Size}}", "busybox"])
            .ok()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(rootfs, rw + image, "{args:?}");
    }
    b.run(&["rm", "sized"]).ok();
}

/// `--format` is Go's text/template in full: ranges over maps in key order, index, len, if,
/// with, variables, pipelines, printf, and Docker's json without HTML escaping; a missing
/// map key prints `<no value>` in inspect, a missing field fails in ps.
#[test]
fn root_formats_are_gos_templates() {
    let b = Berth::new();
    b.import_busybox("busybox");
    let _ = b.run(&["network", "rm", "fmtnet"]);
    b.run(&["network", "create", "fmtnet"]).ok();
    b.run(&[
        "run",
        "-d",
        "--name",
        "fmt",
        "--network",
        "fmtnet",
        "--label",
        "team=kiwi",
        "busybox",
        "sleep",
        "300",
    ])
    .ok();
    b.run(&["network", "connect", "bridge", "fmt"]).ok();
    let f = |format: &str| {
        b.run(&["inspect", "-f", format, "fmt"])
            .ok()
            .trim_end()
            .to_string()
    };
    let ips = f("{{range $name, $n := .NetworkSettings.Networks}}{{$name}} {{end}}");
    assert_eq!(ips, "bridge fmtnet", "map keys in order");
    let ip = f(r#"{{(index .NetworkSettings.Networks "fmtnet").IPAddress}}"#);
    assert!(ip.split('.').count() == 4, "{ip}");
    assert_eq!(f("{{if .State.Running}}up{{else}}down{{end}}"), "up");
    assert_eq!(f("{{.Name | printf \"%q\"}}"), "\"/fmt\"");
    assert_eq!(f("{{with .Config.Labels}}{{.team}}{{end}}"), "kiwi");
    assert_eq!(f("{{.Config.Labels.nosuch}}"), "<no value>");
    // `index` of a missing key is the element type's zero value, as Docker's Go types give.
    assert_eq!(
        f(r#"[{{index .Config.Labels "nosuch"}}] {{index .NetworkSettings.Networks "none"}}"#),
        "[] <nil>"
    );
    let image_label = b
        .run(&[
            "image",
            "inspect",
            "-f",
            r#"[{{index .Config.Labels "x"}}]"#,
            "busybox",
        ])
        .ok();
    assert_eq!(image_label.trim(), "[]");
    assert_eq!(
        f("{{len .Config.Cmd}} {{json .Config.Cmd}}"),
        "2 [\"sleep\",\"300\"]"
    );
    assert_eq!(f("{{$id := slice .Id 0 12}}{{$id}}").len(), 12);
    // Docker's nil slices and maps print as Go prints them; nil pointers as <nil>; json null.
    assert_eq!(
        f("{{.Config.Entrypoint}} {{.HostConfig.Links}} {{.Config.Volumes}} {{.State.Health}} {{json .HostConfig.Links}}"),
        "[] [] map[] <nil> null"
    );
    let image = b
        .run(&[
            "image",
            "inspect",
            "-f",
            "{{.RepoDigests}} {{.Config.OnBuild}}",
            "busybox",
        ])
        .ok();
    assert_eq!(image.trim(), "[] []");
    let ps = b
        .run(&[
            "ps",
            "--format",
            "{{if eq .Names \"fmt\"}}{{.Names}}:{{.State}}{{end}}",
        ])
        .ok();
    assert_eq!(ps.trim(), "fmt:running");
    let err = b.run(&["ps", "--format", "{{.Nosuch}}"]).fails();
    assert!(err.contains("can't evaluate field Nosuch"), "{err}");
    let err = b.run(&["ps", "--format", "{{nosuch}}"]).fails();
    assert!(
        err.contains("template parsing error: template: :1: function \"nosuch\" not defined"),
        "{err}"
    );
    b.run(&["rm", "-f", "fmt"]).ok();
    b.run(&["network", "rm", "fmtnet"]).ok();
}
