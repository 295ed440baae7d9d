//! End-to-end tests of the image commands, driving the real binary. Root only: unpacking
//! layers creates device nodes and sets owners.

mod common;

use common::{busybox_tar, json, Berth};

#[test]
fn root_import_then_images_inspect_history() {
    let b = Berth::new();
    let tar = busybox_tar();
    let id = b
        .run(&[
            "import",
            "-c",
            "ENTRYPOINT [\"/bin/sh\", \"-c\"]",
            "-c",
            "CMD echo hello",
            "-c",
            "ENV GREETING=\"hi there\" LANG=C.UTF-8",
            "-c",
            "WORKDIR /srv",
            "-c",
            "EXPOSE 80 53/udp",
            "-c",
            "LABEL org.example.team=kiwi",
            "-c",
            "USER nobody",
            "-m",
            "fixture import",
            tar.to_str().unwrap(),
            "example/busybox:1.0",
        ])
        .ok();
    let id = id.trim();
    assert!(
        id.starts_with("sha256:") && id.len() == 71,
        "prints the image id: {id}"
    );

    let out = b.run(&["images"]).ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    );
    assert!(
        lines[1].starts_with("example/busybox   1.0       "),
        "{out}"
    );
    assert!(lines[1].contains(&id[7..19]), "short id shown: {out}");
    assert!(lines[1].ends_with("MB"), "size in MB: {out}");

    let v = json(&b.run(&["image", "inspect", "example/busybox:1.0"]).ok());
    let i = &v[0];
    assert_eq!(i["Id"], id);
    assert_eq!(i["RepoTags"][0], "example/busybox:1.0");
    assert_eq!(
        i["Config"]["Entrypoint"],
        serde_json::json!(["/bin/sh", "-c"])
    );
    assert_eq!(
        i["Config"]["Cmd"],
        serde_json::json!(["/bin/sh", "-c", "echo hello"])
    );
    assert_eq!(
        i["Config"]["Env"],
        serde_json::json!(["GREETING=hi there", "LANG=C.UTF-8"])
    );
    assert_eq!(i["Config"]["WorkingDir"], "/srv");
    assert_eq!(i["Config"]["User"], "nobody");
    assert_eq!(i["Config"]["Labels"]["org.example.team"], "kiwi");
    assert!(i["Config"]["ExposedPorts"]["53/udp"].is_object());
    assert_eq!(i["Os"], "linux");
    assert_eq!(i["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    assert!(i["Size"].as_u64().unwrap() > 1_000_000);
    assert_eq!(i["Comment"], "fixture import");

    // --format on inspect, and the generic inspect.
    assert_eq!(
        b.run(&[
            "inspect",
            "-f",
            "{{.Config.WorkingDir}} {{json .Config.Cmd}}",
            id
        ])
        .ok(),
        "/srv [\"/bin/sh\",\"-c\",\"echo hello\"]\n"
    );

    let h = b.run(&["history", "example/busybox:1.0"]).ok();
    assert!(h.starts_with("IMAGE"), "{h}");
    assert!(h.contains("fixture import"), "{h}");
    assert_eq!(
        b.run(&["history", "-q", "example/busybox:1.0"]).ok().trim(),
        &id[7..19]
    );

    // The unpacked layer is a real busybox tree.
    let layer = i["GraphDriver"]["Data"]["UpperDir"].as_str().unwrap();
    assert!(std::path::Path::new(layer).join("bin/busybox").is_file());
    assert_eq!(
        std::fs::read_link(std::path::Path::new(layer).join("bin/sh"))
            .unwrap()
            .to_str(),
        Some("/bin/busybox")
    );
}

#[test]
fn root_import_is_deterministic_for_content_and_reads_compressed_input() {
    let b = Berth::new();
    let tar = busybox_tar();
    let raw = std::fs::read(&tar).unwrap();
    b.import_busybox("plain");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &raw).unwrap();
    let gz = gz.finish().unwrap();
    b.run_stdin(&["import", "-", "gz:1"], &gz).ok();
    let diff = |name: &str| {
        json(&b.run(&["image", "inspect", name]).ok())[0]["RootFS"]["Layers"][0].clone()
    };
    assert_eq!(diff("plain"), diff("gz:1"), "same content, same diff id");
    // One layer stored once.
    assert_eq!(b.layer_count(), 1);
    // Garbage is refused without leaving anything.
    let before = b.blob_count();
    let err = b
        .run_stdin(
            &["import", "-", "junk"],
            b"this is not a tar archive at all, just text....",
        )
        .fails();
    assert!(err.contains("import of -"), "names the input: {err}");
    assert_eq!(b.blob_count(), before);
    b.assert_blobs_verified();
}

#[test]
fn root_images_format_filter_quiet() {
    let b = Berth::new();
    let id = b.import_busybox("busybox");
    b.run(&["tag", "busybox", "localhost:5000/team/app:v2"])
        .ok();
    let out = b
        .run(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .ok();
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort();
    assert_eq!(lines, ["busybox:latest", "localhost:5000/team/app:v2"]);
    assert_eq!(
        b.run(&["images", "-q"]).ok().trim(),
        &id[7..19],
        "one id per image"
    );
    assert_eq!(b.run(&["images", "-q", "--no-trunc"]).ok().trim(), id);
    let out = b
        .run(&[
            "images",
            "--filter",
            "reference=busy*",
            "--format",
            "{{.Repository}}",
        ])
        .ok();
    assert_eq!(out, "busybox\n");
    let out = b
        .run(&["images", "localhost:5000/team/app", "--format", "{{.Tag}}"])
        .ok();
    assert_eq!(out, "v2\n");
    let j = b.run(&["images", "--format", "json"]).ok();
    for l in j.lines() {
        let v = json(l);
        assert_eq!(v["ID"], &id[7..19]);
    }
    let t = b
        .run(&["images", "--format", "table {{.ID}}\t{{.Repository}}"])
        .ok();
    assert!(t.starts_with("IMAGE ID       REPOSITORY\n"), "{t}");
    // Re-importing under the same name moves the tag; the old image becomes dangling.
    b.run(&["rmi", "localhost:5000/team/app:v2"]).ok();
    let raw = std::fs::read(busybox_tar()).unwrap();
    b.run_stdin(&["import", "-c", "CMD [\"true\"]", "-", "busybox"], &raw)
        .ok();
    let d = b.run(&["images", "--filter", "dangling=true", "-q"]).ok();
    assert_eq!(d.trim(), &id[7..19]);
    let out = b.run(&["images", "--filter", "dangling=true"]).ok();
    assert!(
        out.lines()
            .nth(1)
            .unwrap()
            .starts_with("<none>       <none>"),
        "{out}"
    );
    let err = b.run(&["images", "--filter", "color=red"]).fails();
    assert!(err.contains("invalid filter 'color'"), "{err}");
    let err = b.run(&["images", "--format", "{{.Nope"]).fails();
    assert!(err.contains("template"), "{err}");
}

#[test]
fn root_tag_and_rmi_follow_docker() {
    let b = Berth::new();
    let id = b.import_busybox("busybox");
    let short = &id[7..19];
    b.run(&["tag", "busybox", "other/name:1"]).ok();
    b.run(&["tag", short, "busybox:extra"]).ok();
    // By ID with tags in several repositories: refused without -f.
    let err = b.run(&["rmi", short]).fails();
    assert!(err.contains(&format!("conflict: unable to delete {short} (must be forced) - image is referenced in multiple repositories")), "{err}");
    // By tag: untag only while other tags remain.
    assert_eq!(
        b.run(&["rmi", "other/name:1"]).ok(),
        "Untagged: other/name:1\n"
    );
    assert_eq!(
        b.run(&["rmi", "busybox:extra"]).ok(),
        "Untagged: busybox:extra\n"
    );
    assert!(b.blob_count() > 0 && b.layer_count() == 1);
    // Last tag: untagged and deleted, content garbage-collected.
    let out = b.run(&["rmi", "busybox"]).ok();
    assert_eq!(out, format!("Untagged: busybox:latest\nDeleted: {id}\n"));
    assert_eq!(b.blob_count(), 0);
    assert_eq!(b.layer_count(), 0);
    // Missing image: one clear line, non-zero exit.
    let err = b.run(&["rmi", "busybox"]).fails();
    assert_eq!(err, "Error: No such image: busybox:latest\n");
    // -f with several repositories removes everything.
    let id2 = b.import_busybox("a/b");
    b.run(&["tag", "a/b", "c/d"]).ok();
    let out = b.run(&["rmi", "-f", &id2]).ok();
    assert!(
        out.contains("Untagged: a/b:latest")
            && out.contains("Untagged: c/d:latest")
            && out.contains("Deleted:"),
        "{out}"
    );
    assert_eq!(b.run(&["images", "-q"]).ok(), "");
}

#[test]
fn root_bad_references_and_names() {
    let b = Berth::new();
    b.import_busybox("busybox");
    let err = b.run(&["tag", "busybox", "Foo:bar"]).fails();
    assert_eq!(
        err,
        "Error: invalid reference format: repository name (library/Foo) must be lowercase\n"
    );
    let err = b.run(&["tag", "busybox", "a:b:c"]).fails();
    assert_eq!(err, "Error: invalid reference format: a:b:c\n");
    let err = b.run(&["image", "inspect", "nosuch"]).fails();
    assert_eq!(err, "Error: No such image: nosuch\n");
    let err = b.run(&["inspect", "nosuch:1"]).fails();
    assert_eq!(err, "Error: No such object: nosuch:1\n");
    let err = b
        .run(&["import", "-c", "RUN echo", busybox_tar().to_str().unwrap()])
        .fails();
    assert!(err.contains("invalid change \"RUN echo\""), "{err}");
    let err = b.run(&["import", "/nonexistent/rootfs.tar"]).fails();
    assert!(err.contains("/nonexistent/rootfs.tar"), "{err}");
    // Unknown flags: Docker's exit code for CLI errors.
    assert_eq!(b.run(&["images", "--bogus"]).code, 125);
}

#[test]
fn root_prune_and_system_df() {
    let b = Berth::new();
    b.import_busybox("keep");
    let raw = std::fs::read(busybox_tar()).unwrap();
    b.run_stdin(&["import", "-c", "CMD [\"x\"]", "-"], &raw)
        .ok(); // dangling
    let df = b.run(&["system", "df"]).ok();
    let images_row: Vec<&str> = df.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(&images_row[..3], ["Images", "2", "0"], "{df}");
    let out = b.run(&["image", "prune", "-f"]).ok();
    assert!(
        out.starts_with("Deleted Images:\ndeleted: sha256:"),
        "{out}"
    );
    // The layer is shared with the kept image: only the config and manifest go.
    assert!(
        out.trim_end().ends_with("B") && !out.contains("kB") && !out.contains("MB"),
        "{out}"
    );
    assert_eq!(b.run(&["images", "-q"]).ok().lines().count(), 1);
    // Without -f it asks; "n" keeps everything.
    let out = b.run_stdin(&["image", "prune", "-a"], b"n\n").ok();
    assert!(
        out.contains("Are you sure you want to continue? [y/N]"),
        "{out}"
    );
    assert_eq!(b.run(&["images", "-q"]).ok().lines().count(), 1);
    let out = b.run(&["image", "prune", "-a", "-f"]).ok();
    assert!(out.contains("untagged: keep:latest"), "{out}");
    assert!(out.trim_end().ends_with("MB"), "reclaims the layer: {out}");
    assert_eq!(b.blob_count(), 0);
}

/// Unmounts a test mount even when the test fails.
struct Unmount(std::path::PathBuf);
impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn root_full_disk_gives_one_clear_error_and_changes_nothing() {
    let b = Berth::new();
    // The busybox tar (~2 MB) and its unpacked tree (~2 MB) do not fit in 3 MB.
    let st = std::process::Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            "size=3m",
            "berth-test-full",
            b.root().to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(st.success(), "mount tmpfs");
    let _unmount = Unmount(b.root().to_path_buf());
    let err = b
        .run(&["import", busybox_tar().to_str().unwrap(), "busybox"])
        .fails();
    assert!(err.contains("No space left on device"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert_eq!(b.run(&["images", "-q"]).ok(), "");
    assert_eq!(b.blob_count(), 0);
    assert_eq!(b.layer_count(), 0);
    assert_eq!(
        std::fs::read_dir(b.root().join("tmp")).unwrap().count(),
        0,
        "scratch cleaned"
    );
}
