//! Layer apply/diff tests. They create device nodes and chown files: root only.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use super::*;
use crate::error::Error;

/// Appends an entry with exactly the given name bytes (the tar crate's builder refuses unsafe
/// names, and these tests need them).
fn raw(
    b: &mut tar::Builder<Vec<u8>>,
    name: &str,
    kind: tar::EntryType,
    data: &[u8],
    link: Option<&str>,
) {
    let mut h = tar::Header::new_old();
    {
        let old = h.as_old_mut();
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(l) = link {
            old.linkname[..l.len()].copy_from_slice(l.as_bytes());
        }
    }
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_size(data.len() as u64);
    h.set_mtime(1_600_000_000);
    h.set_cksum();
    b.append(&h, data).unwrap();
}

fn entry(
    b: &mut tar::Builder<Vec<u8>>,
    name: &str,
    kind: tar::EntryType,
    mode: u32,
    data: &[u8],
    link: Option<&str>,
) {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(1000);
    h.set_gid(1001);
    h.set_mtime(1_500_000_000);
    h.set_size(data.len() as u64);
    match link {
        Some(l) => b.append_link(&mut h, name, l).unwrap(),
        None => b.append_data(&mut h, name, data).unwrap(),
    }
}

fn sample_layer() -> Vec<u8> {
    use tar::EntryType::*;
    let mut b = tar::Builder::new(Vec::new());
    entry(&mut b, "etc/", Directory, 0o755, b"", None);
    entry(
        &mut b,
        "etc/passwd",
        Regular,
        0o644,
        b"root:x:0:0::/root:/bin/sh\n",
        None,
    );
    entry(&mut b, "bin/", Directory, 0o755, b"", None);
    entry(&mut b, "bin/su", Regular, 0o4755, b"#!suid", None);
    entry(&mut b, "bin/sh", Symlink, 0o777, b"", Some("busybox"));
    entry(&mut b, "bin/busybox", Regular, 0o755, b"ELF...", None);
    entry(&mut b, "bin/ash", Link, 0o755, b"", Some("bin/busybox"));
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(Char);
    h.set_mode(0o666);
    h.set_device_major(1).unwrap();
    h.set_device_minor(3).unwrap();
    h.set_size(0);
    h.set_mtime(0);
    b.append_data(&mut h, "dev/null", &b""[..]).unwrap();
    entry(&mut b, "run/fifo", Fifo, 0o600, b"", None);
    // security.capability on a file (cap_net_raw+ep), as ping has it.
    b.append_pax_extensions([(
        "SCHILY.xattr.security.capability",
        &[
            1u8, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ][..],
    )])
    .unwrap();
    entry(&mut b, "bin/ping", Regular, 0o755, b"ping", None);
    entry(&mut b, "var/", Directory, 0o755, b"", None);
    entry(&mut b, "var/.wh..wh..opq", Regular, 0o644, b"", None);
    entry(&mut b, "var/kept", Regular, 0o644, b"new", None);
    entry(&mut b, "etc/.wh.shadow", Regular, 0o644, b"", None);
    b.into_inner().unwrap()
}

#[test]
fn root_apply_overlay_form_keeps_every_kind_of_entry() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let stats = apply_layer(&sample_layer()[..], d, WhiteoutMode::Overlay).unwrap();
    assert!(stats.bytes > 0);
    assert_eq!(
        fs::read(d.join("etc/passwd")).unwrap(),
        b"root:x:0:0::/root:/bin/sh\n"
    );
    let su = fs::metadata(d.join("bin/su")).unwrap();
    assert_eq!(
        su.permissions().mode() & 0o7777,
        0o4755,
        "setuid bit kept after chown"
    );
    assert_eq!((su.uid(), su.gid()), (1000, 1001));
    assert_eq!(su.mtime(), 1_500_000_000);
    assert_eq!(
        fs::read_link(d.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    let a = fs::metadata(d.join("bin/ash")).unwrap();
    let b = fs::metadata(d.join("bin/busybox")).unwrap();
    assert_eq!(a.ino(), b.ino(), "hardlink shares the inode");
    let null = fs::symlink_metadata(d.join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), libc::makedev(1, 3));
    assert!(fs::symlink_metadata(d.join("run/fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    let cap = xattr::get(d.join("bin/ping"), "security.capability")
        .unwrap()
        .unwrap();
    assert_eq!(cap.len(), 20);
    assert_eq!(
        xattr::get(d.join("var"), apply::OVERLAY_OPAQUE_XATTR)
            .unwrap()
            .as_deref(),
        Some(&b"y"[..])
    );
    let wh = fs::symlink_metadata(d.join("etc/shadow")).unwrap();
    assert!(
        wh.file_type().is_char_device() && wh.rdev() == 0,
        "whiteout as 0:0 device"
    );
    assert_eq!(
        fs::metadata(d.join("etc")).unwrap().mtime(),
        1_500_000_000,
        "dir mtime set last"
    );
}

#[test]
fn root_apply_delete_mode_removes_what_whiteouts_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir_all(d.join("etc")).unwrap();
    fs::write(d.join("etc/shadow"), "secret").unwrap();
    fs::create_dir_all(d.join("var/old")).unwrap();
    fs::write(d.join("var/old/file"), "x").unwrap();
    apply_layer(&sample_layer()[..], d, WhiteoutMode::Delete).unwrap();
    assert!(!d.join("etc/shadow").exists());
    assert!(
        !d.join("var/old").exists(),
        "opaque dir hides lower content"
    );
    assert_eq!(
        fs::read(d.join("var/kept")).unwrap(),
        b"new",
        "same-layer content stays"
    );
}

#[test]
fn root_rejects_entries_that_escape() {
    use tar::EntryType::*;
    type Case = Box<dyn Fn(&mut tar::Builder<Vec<u8>>)>;
    let cases: Vec<(&str, Case)> = vec![
        (
            "dotdot",
            Box::new(|b| raw(b, "../escaped", Regular, b"x", None)),
        ),
        (
            "nested dotdot",
            Box::new(|b| raw(b, "a/../../escaped", Regular, b"x", None)),
        ),
        (
            "absolute",
            Box::new(|b| raw(b, "/escaped", Regular, b"x", None)),
        ),
        (
            "through symlink",
            Box::new(|b| {
                raw(b, "link", Symlink, b"", Some("../OUTSIDE"));
                raw(b, "link/escaped", Regular, b"x", None);
            }),
        ),
        (
            "hardlink out",
            Box::new(|b| raw(b, "h", Link, b"", Some("../OUTSIDE/victim"))),
        ),
        (
            "hardlink via symlink",
            Box::new(|b| {
                raw(b, "link", Symlink, b"", Some("../OUTSIDE"));
                raw(b, "h", Link, b"", Some("link/victim"));
            }),
        ),
    ];
    for (name, build) in cases {
        let top = tempfile::tempdir().unwrap();
        let outside = top.path().join("OUTSIDE");
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("victim"), "v").unwrap();
        let dest = top.path().join("dest");
        fs::create_dir(&dest).unwrap();
        let mut b2 = tar::Builder::new(Vec::new());
        build(&mut b2);
        let err =
            apply_layer(&b2.into_inner().unwrap()[..], &dest, WhiteoutMode::Overlay).unwrap_err();
        assert!(matches!(err, Error::UnsafeEntry { .. }), "{name}: {err}");
        assert!(!top.path().join("escaped").exists(), "{name}");
        assert!(!outside.join("escaped").exists(), "{name}");
        assert_eq!(fs::read(outside.join("victim")).unwrap(), b"v", "{name}");
        assert_eq!(
            fs::metadata(outside.join("victim")).unwrap().nlink(),
            1,
            "{name}"
        );
    }
}

#[test]
fn root_truncated_tar_is_an_error() {
    let full = sample_layer();
    let cut = &full[..700];
    let dir = tempfile::tempdir().unwrap();
    let err = apply_layer(cut, dir.path(), WhiteoutMode::Overlay).unwrap_err();
    assert!(matches!(err, Error::BadTar { .. }), "{err}");
}

#[test]
fn root_diff_round_trips_and_is_deterministic() {
    let a = tempfile::tempdir().unwrap();
    apply_layer(&sample_layer()[..], a.path(), WhiteoutMode::Overlay).unwrap();
    let t1 = write_layer_tar(a.path(), DiffSource::OverlayUpper, Vec::new()).unwrap();
    let t2 = write_layer_tar(a.path(), DiffSource::OverlayUpper, Vec::new()).unwrap();
    assert_eq!(t1, t2, "same tree, same bytes");
    // Applying the diff elsewhere gives the same tree, and the same tar again.
    let b = tempfile::tempdir().unwrap();
    apply_layer(&t1[..], b.path(), WhiteoutMode::Overlay).unwrap();
    let t3 = write_layer_tar(b.path(), DiffSource::OverlayUpper, Vec::new()).unwrap();
    assert_eq!(t1, t3);
    // Whiteouts and opaque markers are in the tar, hardlinks stay hardlinks.
    let mut names = Vec::new();
    let mut kinds = Vec::new();
    for e in tar::Archive::new(&t1[..]).entries().unwrap() {
        let e = e.unwrap();
        names.push(e.path().unwrap().display().to_string());
        kinds.push(e.header().entry_type());
    }
    assert!(names.contains(&"etc/.wh.shadow".to_string()), "{names:?}");
    assert!(names.contains(&"var/.wh..wh..opq".to_string()), "{names:?}");
    let mut sorted = names.clone();
    sorted.sort();
    assert!(kinds.contains(&tar::EntryType::Link));
}

#[test]
fn root_a_tar_that_stops_right_after_its_last_content_is_complete_as_for_go() {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in [
        ("Dockerfile", &b"FROM scratch\n"[..]),
        ("notes", &[7u8; 47][..]),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, data).unwrap();
    }
    let full = b.into_inner().unwrap();
    // What the docker CLI sends when the Dockerfile is outside the context: the last
    // entry's content, then nothing (no padding, no end-of-archive blocks).
    let content_end = 512 * 3 + 47;
    let dir = tempfile::tempdir().unwrap();
    apply_layer(&full[..content_end], dir.path(), WhiteoutMode::Literal).unwrap();
    assert_eq!(fs::read(dir.path().join("notes")).unwrap(), vec![7u8; 47]);
    assert_eq!(
        fs::read(dir.path().join("Dockerfile")).unwrap(),
        b"FROM scratch\n"
    );
    // Cut inside the content, or inside the padding: truncated, as Go says too.
    for cut in [content_end - 1, content_end + 10] {
        let dir = tempfile::tempdir().unwrap();
        let err = apply_layer(&full[..cut], dir.path(), WhiteoutMode::Literal).unwrap_err();
        assert!(matches!(err, Error::BadTar { .. }), "{cut}: {err}");
    }
}

#[test]
fn id_shifts_map_into_and_out_of_a_range() {
    let ids = IdShift {
        uid: 100_000,
        uid_size: 10,
        gid: 200_000,
        gid_size: 5,
    };
    assert_eq!(ids.to_tar(100_003, 200_004), (3, 4));
    assert_eq!(
        ids.to_tar(0, 200_005),
        (OVERFLOW_ID, OVERFLOW_ID),
        "outside the range: the overflow id, as the container sees it"
    );
    assert_eq!(ids.to_disk(9, 0), Ok((100_009, 200_000)));
    assert_eq!(ids.to_disk(10, 0), Err(10));
    assert_eq!(ids.to_disk(0, 5), Err(5));
}

/// A tree whose owners are shifted (a remapped container's) gives a tar with the owners
/// shifted back, and such a tar applied with the same shift gives the shifted owners again.
#[test]
fn root_tars_of_shifted_trees_carry_the_containers_owners() {
    let src = tempfile::tempdir().unwrap();
    fs::create_dir(src.path().join("d")).unwrap();
    fs::write(src.path().join("d/f"), b"x").unwrap();
    std::os::unix::fs::lchown(src.path().join("d/f"), Some(300_007), Some(300_008)).unwrap();
    std::os::unix::fs::lchown(src.path().join("d"), Some(300_000), Some(300_000)).unwrap();
    let ids = IdShift {
        uid: 300_000,
        uid_size: 65536,
        gid: 300_000,
        gid_size: 65536,
    };
    let tar = write_path_tar_with_ids(&src.path().join("d"), Path::new("d"), Vec::new(), Some(ids))
        .unwrap();
    let owners: Vec<(String, u64, u64)> = tar::Archive::new(&tar[..])
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            (
                e.path().unwrap().display().to_string(),
                h.uid().unwrap(),
                h.gid().unwrap(),
            )
        })
        .collect();
    assert_eq!(owners, [("d".into(), 0, 0), ("d/f".into(), 7, 8)]);
    let dest = tempfile::tempdir().unwrap();
    apply_layer_with_ids(&tar[..], dest.path(), WhiteoutMode::Literal, Some(ids)).unwrap();
    let m = fs::metadata(dest.path().join("d/f")).unwrap();
    assert_eq!((m.uid(), m.gid()), (300_007, 300_008));
    // An owner the range has no place for is refused, not written as some other id.
    let narrow = IdShift { uid_size: 5, ..ids };
    let dest = tempfile::tempdir().unwrap();
    let e = apply_layer_with_ids(&tar[..], dest.path(), WhiteoutMode::Literal, Some(narrow))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("container ID 7 cannot be mapped to a host ID"),
        "{e}"
    );
}
