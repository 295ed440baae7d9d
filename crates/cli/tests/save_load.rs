//! End-to-end tests of `save` and `load`: round trips, the formats peers write and read, bad
//! archives, and a load killed half-way. Root only (layers hold device nodes and owners).

mod common;

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{busybox_tar, have_tool, json, Berth};
use sha2::Digest as _;

fn sha(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}

fn tar_entry<W: std::io::Write>(t: &mut tar::Builder<W>, path: &str, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    t.append_data(&mut h, path, data).unwrap();
}

fn entries(archive: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for e in tar::Archive::new(archive).entries().unwrap() {
        let mut e = e.unwrap();
        if e.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let p = e.path().unwrap().display().to_string();
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut b).unwrap();
        out.push((p, b));
    }
    out
}

#[test]
fn root_save_load_round_trip_keeps_digests_and_bytes() {
    let a = Berth::new();
    let id = a.import_busybox("busybox");
    a.run(&["tag", "busybox", "team/app:1"]).ok();
    let dir = tempfile::tempdir().unwrap();
    let f1 = dir.path().join("one.tar");
    let f2 = dir.path().join("two.tar");
    a.run(&["save", "-o", f1.to_str().unwrap(), "busybox", "team/app:1"])
        .ok();
    a.run(&["save", "-o", f2.to_str().unwrap(), "busybox", "team/app:1"])
        .ok();
    assert_eq!(
        std::fs::read(&f1).unwrap(),
        std::fs::read(&f2).unwrap(),
        "save is deterministic"
    );
    // To stdout too.
    let out = a
        .cmd(&["save", "busybox"])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(entries(&out.stdout)
        .iter()
        .any(|(p, _)| p == "manifest.json"));

    let b = Berth::new();
    let loaded = b.run(&["load", "-i", f1.to_str().unwrap()]).ok();
    assert_eq!(
        loaded,
        "Loaded image: busybox:latest\nLoaded image: team/app:1\n"
    );
    let ia = json(&a.run(&["image", "inspect", "busybox"]).ok());
    let ib = json(&b.run(&["image", "inspect", "team/app:1"]).ok());
    assert_eq!(ib[0]["Id"], id);
    assert_eq!(
        ia[0]["Descriptor"]["digest"], ib[0]["Descriptor"]["digest"],
        "same manifest digest"
    );
    assert_eq!(ia[0]["RootFS"], ib[0]["RootFS"]);
    // Loading from stdin, again: nothing changes. -q hides progress only, as Docker's.
    let bytes = std::fs::read(&f1).unwrap();
    assert_eq!(
        b.run_stdin(&["load", "-q"], &bytes).ok(),
        "Loaded image: busybox:latest\nLoaded image: team/app:1\n"
    );
    let f3 = dir.path().join("three.tar");
    b.run(&["save", "-o", f3.to_str().unwrap(), "busybox", "team/app:1"])
        .ok();
    assert_eq!(
        std::fs::read(&f3).unwrap(),
        bytes,
        "byte-identical after a round trip"
    );
    b.assert_blobs_verified();
}

#[test]
fn root_saved_archive_is_read_by_skopeo_and_umoci() {
    if !have_tool("skopeo") || !have_tool("umoci") {
        return;
    }
    let b = Berth::new();
    let id = b.import_busybox("busybox");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bb.tar");
    b.run(&["save", "-o", f.to_str().unwrap(), "busybox"]).ok();
    let run = |args: &[&str]| {
        let o = std::process::Command::new(args[0])
            .args(&args[1..])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let v = json(&run(&[
        "skopeo",
        "inspect",
        "--config",
        &format!("docker-archive:{}", f.display()),
    ]));
    assert_eq!(v["config"]["Cmd"][0], "sh");
    let v = json(&run(&[
        "skopeo",
        "inspect",
        &format!("oci-archive:{}", f.display()),
    ]));
    assert_eq!(v["Layers"].as_array().unwrap().len(), 1);
    // umoci validates the OCI layout.
    let layout = dir.path().join("layout");
    std::fs::create_dir(&layout).unwrap();
    run(&[
        "tar",
        "-xf",
        f.to_str().unwrap(),
        "-C",
        layout.to_str().unwrap(),
    ]);
    assert_eq!(
        run(&["umoci", "ls", "--layout", layout.to_str().unwrap()]).trim(),
        "latest"
    );
    run(&[
        "umoci",
        "stat",
        "--image",
        &format!("{}:latest", layout.display()),
    ]);

    // And berth loads what skopeo writes, in both formats.
    let dock = dir.path().join("sk-docker.tar");
    let oci = dir.path().join("sk-oci.tar");
    run(&[
        "skopeo",
        "copy",
        &format!("docker-archive:{}", f.display()),
        &format!("docker-archive:{}:sk/docker:1", dock.display()),
    ]);
    run(&[
        "skopeo",
        "copy",
        &format!("docker-archive:{}", f.display()),
        &format!("oci-archive:{}:example.com/sk/oci:2", oci.display()),
    ]);
    let c = Berth::new();
    assert_eq!(
        c.run(&["load", "-i", dock.to_str().unwrap()]).ok(),
        "Loaded image: sk/docker:1\n"
    );
    assert_eq!(
        c.run(&["load", "-i", oci.to_str().unwrap()]).ok(),
        "Loaded image: example.com/sk/oci:2\n"
    );
    let ids = c.run(&["images", "-q", "--no-trunc"]).ok();
    assert_eq!(ids.trim(), id, "same image id through skopeo");
}

/// A docker-archive in the pre-25 form: `<id>/layer.tar`, `<config>.json`, a duplicate layer
/// as a symlink, and a gzip-compressed layer.
#[test]
fn root_loads_classic_docker_archive_with_two_layers() {
    let base = std::fs::read(busybox_tar()).unwrap();
    let mut l2 = tar::Builder::new(Vec::new());
    tar_entry(&mut l2, "etc/motd", b"hello from layer two\n");
    tar_entry(&mut l2, "bin/.wh.vi", b"");
    let l2 = l2.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&l2).unwrap();
    let l2_gz = gz.finish().unwrap();
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux", "created": "2024-05-01T00:00:00Z",
        "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", sha(&base)), format!("sha256:{}", sha(&l2))]},
        "history": [{"created_by": "ADD rootfs.tar /"}, {"created_by": "RUN echo hi > /etc/motd"}],
    });
    let config = serde_json::to_vec(&config).unwrap();
    let cfg_name = format!("{}.json", sha(&config));
    let manifest = serde_json::json!([{"Config": cfg_name, "RepoTags": ["classic:v1"], "Layers": ["aaa/layer.tar", "bbb/layer.tar"]}]);
    let mut t = tar::Builder::new(Vec::new());
    tar_entry(&mut t, "aaa/layer.tar", &base);
    tar_entry(&mut t, "ccc/layer.tar", &l2_gz);
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    t.append_link(&mut h, "bbb/layer.tar", "../ccc/layer.tar")
        .unwrap();
    tar_entry(&mut t, &cfg_name, &config);
    tar_entry(
        &mut t,
        "manifest.json",
        &serde_json::to_vec(&manifest).unwrap(),
    );
    tar_entry(&mut t, "repositories", b"{}");
    let archive = t.into_inner().unwrap();

    let b = Berth::new();
    assert_eq!(
        b.run_stdin(&["load"], &archive).ok(),
        "Loaded image: classic:v1\n"
    );
    let v = json(&b.run(&["image", "inspect", "classic:v1"]).ok());
    assert_eq!(
        v[0]["Id"],
        format!("sha256:{}", sha(&config)),
        "config kept byte for byte"
    );
    let lower = v[0]["GraphDriver"]["Data"]["LowerDir"]
        .as_str()
        .unwrap()
        .to_string();
    let upper = v[0]["GraphDriver"]["Data"]["UpperDir"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(std::path::Path::new(&lower).join("bin/vi").exists());
    assert_eq!(
        std::fs::read_to_string(std::path::Path::new(&upper).join("etc/motd")).unwrap(),
        "hello from layer two\n"
    );
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let wh = std::fs::symlink_metadata(std::path::Path::new(&upper).join("bin/vi")).unwrap();
    assert!(
        wh.file_type().is_char_device() && wh.rdev() == 0,
        "whiteout kept in overlay form"
    );
    let h = b.run(&["history", "classic:v1"]).ok();
    assert!(h.contains("RUN echo hi > /etc/motd"), "{h}");
    // The gzip layer is kept as it came (byte-identical push/save later).
    let man = v[0]["Descriptor"]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    let man = json(&std::fs::read_to_string(b.root().join("blobs/sha256").join(man)).unwrap());
    assert_eq!(
        man["layers"][1]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    assert_eq!(
        man["layers"][1]["digest"],
        format!("sha256:{}", sha(&l2_gz))
    );
}

/// Rewrites one archive entry's content.
fn tamper(archive: &[u8], pick: impl Fn(&str, &[u8]) -> Option<Vec<u8>>) -> Vec<u8> {
    let mut t = tar::Builder::new(Vec::new());
    for (p, data) in entries(archive) {
        let d = pick(&p, &data).unwrap_or(data);
        tar_entry(&mut t, &p, &d);
    }
    t.into_inner().unwrap()
}

#[test]
fn root_bad_archives_are_refused_and_change_nothing() {
    let a = Berth::new();
    a.import_busybox("busybox");
    let saved = a
        .cmd(&["save", "busybox"])
        .stdout(Stdio::piped())
        .output()
        .unwrap()
        .stdout;
    let layer_name = entries(&saved)
        .into_iter()
        .find(|(_, d)| d.len() > 100_000)
        .unwrap()
        .0;

    let b = Berth::new();
    // A flipped byte in the layer: digest mismatch naming the blob.
    let bad = tamper(&saved, |p, d| {
        (p == layer_name).then(|| {
            let mut d = d.to_vec();
            d[5000] ^= 1;
            d
        })
    });
    let err = b.run_stdin(&["load"], &bad).fails();
    assert!(
        err.contains("digest mismatch") && err.contains(&layer_name),
        "{err}"
    );
    assert_eq!(b.blob_count(), 0, "nothing stored");
    assert_eq!(b.layer_count(), 0);

    // Truncated archive.
    let err = b.run_stdin(&["load"], &saved[..saved.len() / 2]).fails();
    assert!(
        err.contains("not a valid tar archive or truncated") || err.contains("not in the archive"),
        "{err}"
    );
    assert_eq!(b.blob_count(), 0);

    // Not an image archive.
    let mut t = tar::Builder::new(Vec::new());
    tar_entry(&mut t, "hello.txt", b"hi");
    let err = b.run_stdin(&["load"], &t.into_inner().unwrap()).fails();
    assert!(err.contains("neither manifest.json"), "{err}");

    // Manifest that is not JSON.
    let bad = tamper(&saved, |p, _| {
        (p == "manifest.json").then(|| b"{nope".to_vec())
    });
    let bad = tamper(&bad, |p, _| (p == "index.json").then(|| b"[".to_vec()));
    let err = b.run_stdin(&["load"], &bad).fails();
    assert!(
        err.contains("invalid JSON") && err.contains("index.json"),
        "{err}"
    );

    // Unknown layer media type in an OCI manifest.
    let idx = json(
        std::str::from_utf8(
            &entries(&saved)
                .into_iter()
                .find(|(p, _)| p == "index.json")
                .unwrap()
                .1,
        )
        .unwrap(),
    );
    let man_digest = idx["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    let man_path = format!("blobs/sha256/{man_digest}");
    let man_bytes = entries(&saved)
        .into_iter()
        .find(|(p, _)| *p == man_path)
        .unwrap()
        .1;
    let new_man = String::from_utf8(man_bytes).unwrap().replace(
        "application/vnd.oci.image.layer.v1.tar\"",
        "application/vnd.example.weird\"",
    );
    let new_digest = sha(new_man.as_bytes());
    let mut t = tar::Builder::new(Vec::new());
    for (p, d) in entries(&saved) {
        if p == man_path {
            tar_entry(
                &mut t,
                &format!("blobs/sha256/{new_digest}"),
                new_man.as_bytes(),
            );
        } else if p == "index.json" {
            tar_entry(
                &mut t,
                &p,
                String::from_utf8(d)
                    .unwrap()
                    .replace(&man_digest, &new_digest)
                    .as_bytes(),
            );
        } else if p != "manifest.json" {
            tar_entry(&mut t, &p, &d);
        }
    }
    let err = b.run_stdin(&["load"], &t.into_inner().unwrap()).fails();
    assert!(
        err.contains("unsupported media type \"application/vnd.example.weird\""),
        "{err}"
    );
    assert_eq!(b.blob_count(), 0);
    assert_eq!(b.run(&["images", "-q"]).ok(), "");

    // Missing input file.
    let err = b.run(&["load", "-i", "/nonexistent.tar"]).fails();
    assert!(err.contains("/nonexistent.tar"), "{err}");
}

/// kill -9 in the middle of a large load: every command still works, nothing partial is
/// visible, scratch space is reclaimed, and the load can simply be run again.
#[test]
fn root_load_killed_midway_leaves_store_usable() {
    let src = Berth::new();
    // A ~300 MB rootfs, so the load takes a while.
    let dir = tempfile::tempdir().unwrap();
    let rootfs = dir.path().join("big.tar");
    {
        let mut t = tar::Builder::new(std::io::BufWriter::new(
            std::fs::File::create(&rootfs).unwrap(),
        ));
        for i in 0..6u8 {
            let data = vec![i; 50 << 20];
            tar_entry(&mut t, &format!("data/file{i}"), &data);
        }
        t.into_inner().unwrap().flush().unwrap();
    }
    src.run(&["import", rootfs.to_str().unwrap(), "big:1"]).ok();
    let archive = dir.path().join("big-save.tar");
    src.run(&["save", "-o", archive.to_str().unwrap(), "big:1"])
        .ok();
    drop(src);

    let b = Berth::new();
    b.import_busybox("busybox");
    let before = b.run(&["images"]).ok();
    let mut child = b
        .cmd(&["load", "-i", archive.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the load is writing into scratch space, then kill it.
    let tmp = b.root().join("tmp");
    let start = Instant::now();
    loop {
        let written: u64 = std::fs::read_dir(&tmp)
            .unwrap()
            .flatten()
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum();
        if written > 20 << 20 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "load never started writing"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "load finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        std::fs::read_dir(&tmp).unwrap().count() > 0,
        "the kill left scratch files behind"
    );

    // Every command works, nothing partial is visible.
    assert_eq!(b.run(&["images"]).ok(), before);
    b.assert_blobs_verified();
    b.run(&["image", "inspect", "busybox"]).ok();
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "scratch of the dead process removed"
    );
    // And the load simply works when run again.
    assert_eq!(
        b.run(&["load", "-i", archive.to_str().unwrap()]).ok(),
        "Loaded image: big:1\n"
    );
    b.assert_blobs_verified();
}

#[test]
fn root_concurrent_writers_never_corrupt_the_index() {
    let b = Berth::new();
    let tar = busybox_tar();
    let children: Vec<_> = (0..8)
        .map(|i| {
            b.cmd(&[
                "import",
                tar.to_str().unwrap(),
                &format!("concurrent/img:{i}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let tags = b.run(&["images", "--format", "{{.Tag}}"]).ok();
    let mut tags: Vec<&str> = tags.lines().collect();
    tags.sort();
    assert_eq!(tags, ["0", "1", "2", "3", "4", "5", "6", "7"]);
    assert_eq!(b.layer_count(), 1, "the shared layer is unpacked once");
    b.assert_blobs_verified();
}
