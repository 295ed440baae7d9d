//! End-to-end registry tests against Debian's docker-registry (distribution 2.x) started on
//! 127.0.0.1 with its own config and storage; fake registries (std TcpListener) for answers a
//! real one never gives. Only loopback is contacted.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::registry_server::{free_port, Registry};
use common::{have_tool, json, Berth};

fn available() -> bool {
    have_tool("docker-registry") && have_tool("htpasswd")
}

fn busybox() -> Berth {
    let b = Berth::new();
    b.import_busybox("busybox");
    b
}

/// berth with its own Docker config dir (credentials), so tests never touch ~/.docker.
fn with_config(b: &Berth, cfg: &Path, args: &[&str]) -> common::Run {
    b.run_env(args, "DOCKER_CONFIG", cfg)
}

/// `berth login -u alice --password-stdin HOST` with `password` on stdin.
fn login(b: &Berth, cfg: &Path, host: &str, password: &str) -> std::process::Output {
    b.cmd(&["login", "-u", "alice", "--password-stdin", host])
        .env("DOCKER_CONFIG", cfg)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(password.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap()
}

fn image_id(b: &Berth, name: &str) -> String {
    b.run(&["image", "inspect", "-f", "{{.Id}}", name])
        .ok()
        .trim()
        .to_string()
}

#[test]
fn root_push_pull_run_and_skip_existing_blobs() {
    if !available() {
        return;
    }
    let reg = Registry::start(None);
    let b = busybox();
    let name = format!("{}/test/bb:v1", reg.host());
    b.run(&["tag", "busybox", &name]).ok();
    let out = b.run(&["push", &name]).ok();
    assert!(
        out.contains(&format!(
            "The push refers to repository [{}/test/bb]",
            reg.host()
        )),
        "{out}"
    );
    assert!(out.contains(": Pushed"), "{out}");
    let last = out.lines().last().unwrap();
    assert!(
        last.starts_with("v1: digest: sha256:") && last.contains(" size: "),
        "{out}"
    );
    let digest = last.split_whitespace().nth(2).unwrap().to_string();
    // Pushing again uploads nothing.
    let again = b.run(&["push", &name]).ok();
    assert!(
        again.contains("Layer already exists") && !again.contains(": Pushed"),
        "{again}"
    );
    assert!(again.ends_with(&format!(
        "v1: digest: {digest} size: {}\n",
        last.rsplit(' ').next().unwrap()
    )));
    // A fresh store pulls it back, with the same image ID, and runs it.
    let fresh = Berth::new();
    let pulled = fresh.run(&["pull", &name]).ok();
    assert!(pulled.contains("Pull complete"), "{pulled}");
    assert!(pulled.contains(&format!("Digest: {digest}")), "{pulled}");
    assert!(pulled.ends_with(&format!("{name}\n")), "{pulled}");
    assert_eq!(image_id(&fresh, &name), image_id(&b, "busybox"));
    let ins = json(&fresh.run(&["image", "inspect", &name]).ok());
    assert_eq!(
        ins[0]["RepoDigests"][0],
        format!("{}/test/bb@{digest}", reg.host())
    );
    assert_eq!(
        fresh.run(&["run", "--rm", &name, "echo", "ran"]).ok(),
        "ran\n"
    );
    // Pulling again downloads nothing.
    let again = fresh.run(&["pull", &name]).ok();
    assert!(
        again.contains("Already exists") && again.contains("Image is up to date"),
        "{again}"
    );
    // By digest, and -q.
    let by_digest = format!("{}/test/bb@{digest}", reg.host());
    assert_eq!(
        Berth::new().run(&["pull", "-q", &by_digest]).ok(),
        format!("{by_digest}\n")
    );
    // run pulls a missing image by itself.
    let other = Berth::new();
    let r = other.run(&["run", "--rm", &name, "echo", "auto"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "auto\n");
    assert!(
        r.stderr
            .contains(&format!("Unable to find image '{name}' locally")),
        "{}",
        r.stderr
    );
}

#[test]
fn root_build_pulls_a_missing_from_image_and_copy_from_image() {
    if !available() {
        return;
    }
    let reg = Registry::start(None);
    let b = busybox();
    let base = format!("{}/test/base:1", reg.host());
    b.run(&["tag", "busybox", &base]).ok();
    let pushed = b.run(&["push", &base]).ok();
    let digest = pushed
        .lines()
        .last()
        .unwrap()
        .split_whitespace()
        .nth(2)
        .unwrap()
        .to_string();
    // A store that has never seen the base: FROM and COPY --from pull it, as Docker does.
    let fresh = Berth::new();
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!("FROM {base}\nRUN echo built > /built\nCOPY --from={base} /bin/busybox /copied\n"),
    )
    .unwrap();
    let out = fresh
        .run(&[
            "build",
            "--progress=classic",
            "-t",
            "on-pulled",
            ctx.path().to_str().unwrap(),
        ])
        .ok();
    assert!(out.contains("Pull complete"), "{out}");
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    let ins = json(&fresh.run(&["image", "inspect", &base]).ok());
    assert_eq!(
        ins[0]["RepoDigests"][0],
        format!("{}/test/base@{digest}", reg.host())
    );
    assert_eq!(
        fresh
            .run(&[
                "run",
                "--rm",
                "--network",
                "none",
                "on-pulled",
                "sh",
                "-c",
                "cat /built; cmp /copied /bin/busybox && echo same"
            ])
            .ok(),
        "built\nsame\n"
    );
    // Present now: the next build does not pull; --pull asks the registry again.
    let again = fresh
        .run(&[
            "build",
            "--progress=classic",
            "-t",
            "on-pulled",
            ctx.path().to_str().unwrap(),
        ])
        .ok();
    assert!(
        !again.contains("Pulling") && !again.contains("Digest:"),
        "{again}"
    );
    let pulled = fresh
        .run(&[
            "build",
            "--progress=classic",
            "--pull",
            "-t",
            "on-pulled",
            ctx.path().to_str().unwrap(),
        ])
        .ok();
    assert!(pulled.contains("Image is up to date"), "{pulled}");
    // A base that is nowhere: one clear error naming the line.
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!("FROM {}/test/missing:1\n", reg.host()),
    )
    .unwrap();
    let err = fresh
        .run(&["build", "--progress=classic", ctx.path().to_str().unwrap()])
        .fails();
    assert!(
        err.starts_with("Error: Dockerfile:1: FROM: failed to resolve source metadata for"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    // BuildKit's display ends the step in ERROR before the error.
    let err = fresh
        .run(&["build", "--progress=plain", ctx.path().to_str().unwrap()])
        .fails();
    assert!(
        err.contains("#1 ERROR: Dockerfile:1: FROM: failed to resolve source metadata for"),
        "{err}"
    );
    // `--push` sends what was built to the registry under its name.
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!("FROM {base}\nRUN echo pushed > /pushed\n"),
    )
    .unwrap();
    let name = format!("{}/test/built:1", reg.host());
    fresh
        .run(&[
            "build",
            "-q",
            "--push",
            "-t",
            &name,
            ctx.path().to_str().unwrap(),
        ])
        .ok();
    let elsewhere = Berth::new();
    elsewhere.run(&["pull", "-q", &name]).ok();
    let got = elsewhere
        .run(&["run", "--rm", "--network", "none", &name, "cat", "/pushed"])
        .ok();
    assert_eq!(got, "pushed\n");
    let err = fresh
        .run(&["build", "-q", "--push", ctx.path().to_str().unwrap()])
        .fails();
    assert!(
        err.contains("--push needs a name for the image (-t NAME)"),
        "{err}"
    );
}

#[test]
fn root_cross_repository_mount_and_all_tags() {
    if !available() {
        return;
    }
    let reg = Registry::start(None);
    let b = busybox();
    let a = format!("{}/team/a:1", reg.host());
    b.run(&["tag", "busybox", &a]).ok();
    b.run(&["push", &a]).ok();
    // Pulled from team/a, pushed to team/b on the same registry: the layer is mounted.
    let c = Berth::new();
    c.run(&["pull", &a]).ok();
    let target = format!("{}/team/b:1", reg.host());
    c.run(&["tag", &a, &target]).ok();
    let out = c.run(&["push", &target]).ok();
    assert!(out.contains("Mounted from team/a"), "{out}");
    // --all-tags both ways.
    c.run(&["tag", &a, &format!("{}/team/b:2", reg.host())])
        .ok();
    let out = c
        .run(&["push", "--all-tags", &format!("{}/team/b", reg.host())])
        .ok();
    assert!(
        out.contains("1: digest:") && out.contains("2: digest:"),
        "{out}"
    );
    let d = Berth::new();
    d.run(&["pull", "-a", "-q", &format!("{}/team/b", reg.host())])
        .ok();
    let tags = d.run(&["images", "--format", "{{.Tag}}"]).ok();
    let mut tags: Vec<&str> = tags.lines().collect();
    tags.sort();
    assert_eq!(tags, vec!["1", "2"]);
}

#[test]
fn root_basic_auth_login_logout() {
    if !available() {
        return;
    }
    let reg = Registry::start(Some(("alice", "s3cret")));
    let b = busybox();
    let cfg = tempfile::tempdir().unwrap();
    let name = format!("{}/private/bb:1", reg.host());
    b.run(&["tag", "busybox", &name]).ok();
    let r = with_config(&b, cfg.path(), &["push", &name]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("unauthorized"), "{}", r.stderr);
    // Wrong password: refused, nothing saved.
    let o = login(&b, cfg.path(), &reg.host(), "wrong\n");
    assert_ne!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("incorrect username or password"), "{err}");
    assert!(!cfg.path().join("config.json").exists());
    let o = login(&b, cfg.path(), &reg.host(), "s3cret\n");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "Login Succeeded\n");
    assert!(!String::from_utf8_lossy(&o.stderr).contains("s3cret"));
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(cfg.path().join("config.json")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let saved = std::fs::read_to_string(cfg.path().join("config.json")).unwrap();
    assert!(
        saved.contains(&reg.host()) && !saved.contains("s3cret"),
        "{saved}"
    );
    with_config(&b, cfg.path(), &["push", &name]).ok();
    let fresh = Berth::new();
    with_config(&fresh, cfg.path(), &["pull", "-q", &name]).ok();
    assert_eq!(
        with_config(&fresh, cfg.path(), &["logout", &reg.host()]).ok(),
        format!("Removing login credentials for {}\n", reg.host())
    );
    let r = with_config(&Berth::new(), cfg.path(), &["pull", &name]);
    assert!(r.stderr.contains("unauthorized"), "{}", r.stderr);
}

#[test]
fn root_corrupted_blob_is_rejected_and_nothing_stored() {
    if !available() {
        return;
    }
    let reg = Registry::start(None);
    let b = busybox();
    let name = format!("{}/test/bad:1", reg.host());
    b.run(&["tag", "busybox", &name]).ok();
    b.run(&["push", &name]).ok();
    // Find the layer blob in the registry's storage: the biggest one.
    let mut blobs: Vec<(u64, PathBuf)> =
        walk(&reg.dir.path().join("data/docker/registry/v2/blobs"))
            .into_iter()
            .filter(|p| p.ends_with("data"))
            .map(|p| (std::fs::metadata(&p).unwrap().len(), p))
            .collect();
    blobs.sort();
    let (_, layer) = blobs.last().unwrap().clone();
    let mut bytes = std::fs::read(&layer).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&layer, &bytes).unwrap();
    let victim = Berth::new();
    let r = victim.run(&["pull", &name]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("digest mismatch"), "{}", r.stderr);
    assert_eq!(victim.run(&["images", "-q"]).ok(), "");
    let layers = std::fs::read_dir(victim.root().join("layers"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(layers, 0, "no layer unpacked");
    let big_blobs = std::fs::read_dir(victim.root().join("blobs/sha256"))
        .map(|d| {
            d.flatten()
                .filter(|e| e.metadata().unwrap().len() > 100_000)
                .count()
        })
        .unwrap_or(0);
    assert_eq!(big_blobs, 0, "the corrupted layer must not be stored");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// A proxy in front of the registry that cuts the first big response after `cut` bytes.
fn cutting_proxy(upstream: u16, cut: usize) -> (u16, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let cuts = Arc::new(AtomicUsize::new(0));
    let c2 = cuts.clone();
    std::thread::spawn(move || {
        for conn in l.incoming().take(200) {
            let Ok(client) = conn else { continue };
            let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                continue;
            };
            let cuts = c2.clone();
            let (mut c_r, mut s_w) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c_r, &mut s_w);
                let _ = s_w.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let (mut s_r, mut c_w) = (server, client);
                let mut sent = 0usize;
                let mut buf = [0u8; 16384];
                loop {
                    let n = match s_r.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if sent + n > cut && cuts.load(Ordering::SeqCst) == 0 {
                        cuts.fetch_add(1, Ordering::SeqCst);
                        let _ = c_w.write_all(&buf[..cut - sent]);
                        let _ = c_w.shutdown(std::net::Shutdown::Both);
                        return;
                    }
                    if c_w.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    sent += n;
                }
            });
        }
    });
    (port, cuts)
}

#[test]
fn root_dropped_connection_is_resumed() {
    if !available() {
        return;
    }
    let reg = Registry::start(None);
    let b = busybox();
    let name = format!("{}/test/resume:1", reg.host());
    b.run(&["tag", "busybox", &name]).ok();
    b.run(&["push", &name]).ok();
    let (port, cuts) = cutting_proxy(reg.port, 300_000);
    let via = format!("127.0.0.1:{port}/test/resume:1");
    let fresh = Berth::new();
    let out = fresh.run(&["pull", &via]).ok();
    assert!(out.contains("Pull complete"), "{out}");
    assert_eq!(cuts.load(Ordering::SeqCst), 1, "the proxy cut a download");
    assert_eq!(image_id(&fresh, &via), image_id(&b, "busybox"));
    assert_eq!(
        fresh.run(&["run", "--rm", &via, "echo", "whole"]).ok(),
        "whole\n"
    );
}

/// A fake registry answering every manifest request with `body` / `content_type`.
fn fake_registry(body: &'static str, content_type: &'static str) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in l.incoming().take(50) {
            let Ok(mut s) = conn else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut first = String::new();
            let _ = r.read_line(&mut first);
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
            }
            let (status, b, ct) = if first.contains("/manifests/") {
                ("200 OK", body, content_type)
            } else {
                ("200 OK", "{}", "application/json")
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
                b.len()
            );
        }
    });
    port
}

#[test]
fn root_bad_registry_answers_give_one_clear_error() {
    if !available() {
        return;
    }
    let reg = Registry::start(None);
    let b = Berth::new();
    let closed = free_port();
    let cases: Vec<(String, &str)> = vec![
        (format!("{}/test/none:1", reg.host()), "not found"),
        (format!("127.0.0.1:{closed}/x:1"), "Connection refused"),
        (
            format!(
                "127.0.0.1:{}/x:1",
                fake_registry("{not json", "application/vnd.oci.image.manifest.v1+json")
            ),
            "invalid JSON",
        ),
        (
            format!(
                "127.0.0.1:{}/x:1",
                fake_registry(
                    r#"{"schemaVersion":1,"mediaType":"application/vnd.docker.distribution.manifest.v1+json"}"#,
                    "application/vnd.docker.distribution.manifest.v1+json"
                )
            ),
            "unsupported media type",
        ),
        ("Invalid//Name".to_string(), "invalid reference format"),
    ];
    for (name, want) in cases {
        let r = b.run(&["pull", &name]);
        assert_ne!(r.code, 0, "{name}");
        assert!(r.stderr.contains(want), "{name}: {}", r.stderr);
        assert_eq!(r.stderr.trim().lines().count(), 1, "one line: {}", r.stderr);
    }
    assert_eq!(b.run(&["images", "-q"]).ok(), "");
    // An image that was never there.
    let r = b.run(&["push", &format!("{}/nothing:1", reg.host())]);
    assert!(
        r.stderr
            .contains("An image does not exist locally with the tag"),
        "{}",
        r.stderr
    );
}

#[test]
fn root_skopeo_reads_what_berth_pushed_and_berth_pulls_what_skopeo_pushed() {
    if !available() || !have_tool("skopeo") {
        return;
    }
    let reg = Registry::start(None);
    let b = busybox();
    let name = format!("{}/interop/bb:1", reg.host());
    b.run(&["tag", "busybox", &name]).ok();
    b.run(&["push", &name]).ok();
    let dir = tempfile::tempdir().unwrap();
    let st = Command::new("skopeo")
        .args([
            "copy",
            "--src-tls-verify=false",
            &format!("docker://{name}"),
        ])
        .arg(format!("oci:{}:bb", dir.path().join("oci").display()))
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "skopeo read what berth pushed");
    let back = format!("{}/interop/from-skopeo:2", reg.host());
    let st = Command::new("skopeo")
        .args(["copy", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:bb", dir.path().join("oci").display()))
        .arg(format!("docker://{back}"))
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let fresh = Berth::new();
    fresh.run(&["pull", &back]).ok();
    assert_eq!(
        fresh.run(&["run", "--rm", &back, "echo", "skopeo"]).ok(),
        "skopeo\n"
    );
}

fn openssl(args: &[&str], dir: &Path) {
    let st = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(st.success(), "openssl {args:?}");
}

/// A test CA and a server certificate for 127.0.0.1 signed by it.
fn test_pki(dir: &Path) {
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "1",
            "-subj",
            "/CN=berth-test-ca",
        ],
        dir,
    );
    openssl(
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "srv.key",
            "-out",
            "srv.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
        dir,
    );
    std::fs::write(dir.join("ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "srv.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "srv.crt",
            "-days",
            "1",
            "-extfile",
            "ext",
        ],
        dir,
    );
}

#[test]
fn root_tls_registry_with_test_ca() {
    if !available() || !have_tool("openssl") {
        return;
    }
    let pki = tempfile::tempdir().unwrap();
    test_pki(pki.path());
    let reg = Registry::start_with(
        tempfile::tempdir().unwrap(),
        "",
        &format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            pki.path().join("srv.crt").display(),
            pki.path().join("srv.key").display()
        ),
    );
    let host = reg.host();
    // certs.d/HOST:PORT/ca.crt, as Docker reads it.
    let certs = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(certs.path().join(&host)).unwrap();
    std::fs::copy(
        pki.path().join("ca.crt"),
        certs.path().join(&host).join("ca.crt"),
    )
    .unwrap();
    let b = busybox();
    let name = format!("{host}/tls/bb:1");
    b.run(&["tag", "busybox", &name]).ok();
    let with_certs = |b: &Berth, dir: &Path, args: &[&str]| b.run_env(args, "BERTH_CERTS_D", dir);
    with_certs(&b, certs.path(), &["push", &name]).ok();
    let fresh = Berth::new();
    with_certs(&fresh, certs.path(), &["pull", "-q", &name]).ok();
    assert_eq!(
        fresh.run(&["run", "--rm", &name, "echo", "tls"]).ok(),
        "tls\n"
    );
    // A CA that did not sign the registry's certificate: refused.
    let other = tempfile::tempdir().unwrap();
    test_pki(other.path());
    let wrong = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(wrong.path().join(&host)).unwrap();
    std::fs::copy(
        other.path().join("ca.crt"),
        wrong.path().join(&host).join("ca.crt"),
    )
    .unwrap();
    let r = with_certs(&Berth::new(), wrong.path(), &["pull", &name]);
    assert_ne!(
        r.code, 0,
        "a registry certificate not signed by the given CA must be refused"
    );
}

/// A token issuer like Docker Hub's auth service, for docker-registry's `auth.token`: checks
/// basic credentials (alice / s3cret), grants what is asked, and signs an RS256 JWT with
/// openssl. Records the scopes it was asked for.
struct TokenServer {
    port: u16,
    scopes: Arc<std::sync::Mutex<Vec<String>>>,
}

fn b64url(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn start_token_server(pki: &Path) -> TokenServer {
    use base64::Engine;
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "token.key",
            "-out",
            "token.crt",
            "-days",
            "1",
            "-subj",
            "/CN=berth-test-token",
        ],
        pki,
    );
    let der = Command::new("openssl")
        .args(["x509", "-in", "token.crt", "-outform", "DER"])
        .current_dir(pki)
        .output()
        .unwrap()
        .stdout;
    let x5c = base64::engine::general_purpose::STANDARD.encode(&der);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let scopes = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = scopes.clone();
    let key = pki.join("token.key");
    std::thread::spawn(move || {
        for conn in l.incoming().take(500) {
            let Ok(mut s) = conn else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut first = String::new();
            let _ = r.read_line(&mut first);
            let mut authorized = false;
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                let lower = h.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("authorization: basic ") {
                    let v = h.trim()[h.trim().len() - v.trim().len()..].to_string();
                    let dec = base64::engine::general_purpose::STANDARD
                        .decode(v.trim())
                        .unwrap_or_default();
                    authorized = dec == b"alice:s3cret";
                }
            }
            if !authorized {
                let _ = write!(
                    s,
                    "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                continue;
            }
            let query = first
                .split_whitespace()
                .nth(1)
                .unwrap_or("")
                .split_once('?')
                .map(|x| x.1)
                .unwrap_or("")
                .to_string();
            let mut access = Vec::new();
            for kv in query.split('&') {
                if let Some(v) = kv.strip_prefix("scope=") {
                    let v = v
                        .replace("%3A", ":")
                        .replace("%2C", ",")
                        .replace("%2F", "/");
                    seen.lock().unwrap().push(v.clone());
                    let parts: Vec<&str> = v.splitn(3, ':').collect();
                    if parts.len() == 3 {
                        access.push(serde_json::json!({"type": parts[0], "name": parts[1], "actions": parts[2].split(',').collect::<Vec<_>>()}));
                    }
                }
            }
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5c": [x5c]});
            let claims = serde_json::json!({"iss": "test-issuer", "sub": "alice", "aud": "test-registry",
                "exp": now + 300, "nbf": now - 10, "iat": now, "jti": format!("{now}-{}", access.len()), "access": access});
            let input = format!(
                "{}.{}",
                b64url(header.to_string().as_bytes()),
                b64url(claims.to_string().as_bytes())
            );
            let mut sign = Command::new("openssl")
                .args(["dgst", "-sha256", "-sign"])
                .arg(&key)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            sign.stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
            let sig = sign.wait_with_output().unwrap().stdout;
            let token = format!("{input}.{}", b64url(&sig));
            let body = serde_json::json!({"token": token}).to_string();
            let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        }
    });
    TokenServer { port, scopes }
}

#[test]
fn root_token_auth_with_cross_repository_mount() {
    if !available() || !have_tool("openssl") {
        return;
    }
    let pki = tempfile::tempdir().unwrap();
    let tokens = start_token_server(pki.path());
    let reg = Registry::start_with(
        tempfile::tempdir().unwrap(),
        &format!(
            "auth:\n  token:\n    realm: http://127.0.0.1:{}/token\n    service: test-registry\n    issuer: test-issuer\n    rootcertbundle: {}\n",
            tokens.port,
            pki.path().join("token.crt").display()
        ),
        "",
    );
    let host = reg.host();
    let cfgdir = tempfile::tempdir().unwrap();
    let b = busybox();
    // Anonymous: the token service refuses, so does the push.
    let name = format!("{host}/team/a:1");
    b.run(&["tag", "busybox", &name]).ok();
    let r = with_config(&b, cfgdir.path(), &["push", &name]);
    assert!(r.stderr.contains("unauthorized"), "{}", r.stderr);
    let o = login(&b, cfgdir.path(), &host, "wrong\n");
    assert!(String::from_utf8_lossy(&o.stderr).contains("incorrect username or password"));
    let o = login(&b, cfgdir.path(), &host, "s3cret\n");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "Login Succeeded\n");
    with_config(&b, cfgdir.path(), &["push", &name]).ok();
    // Pulled from team/a, pushed to team/b: mounted, with a pull scope for team/a.
    let c = Berth::new();
    with_config(&c, cfgdir.path(), &["pull", "-q", &name]).ok();
    let target = format!("{host}/team/b:1");
    c.run(&["tag", &name, &target]).ok();
    let out = with_config(&c, cfgdir.path(), &["push", &target]).ok();
    assert!(out.contains("Mounted from team/a"), "{out}");
    let asked = tokens.scopes.lock().unwrap().clone();
    assert!(
        asked.iter().any(|s| s == "repository:team/a:pull"),
        "{asked:?}"
    );
    assert!(
        asked.iter().any(|s| s == "repository:team/b:pull,push"),
        "{asked:?}"
    );
}

#[test]
fn root_docker_hub_pulls_go_to_the_configured_mirror() {
    if !available() {
        return;
    }
    let reg = Registry::start(None);
    let b = busybox();
    // The mirror holds library/busybox, as a Docker Hub mirror would.
    let mirrored = format!("{}/library/busybox:latest", reg.host());
    b.run(&["tag", "busybox", &mirrored]).ok();
    b.run(&["push", &mirrored]).ok();
    let cfg = tempfile::tempdir().unwrap();
    std::fs::write(
        cfg.path().join("daemon.json"),
        format!(r#"{{"registry-mirrors": ["http://{}"]}}"#, reg.host()),
    )
    .unwrap();
    let fresh = Berth::new();
    let o = fresh
        .cmd(&["pull", "busybox"])
        .env("BERTH_CONFIG", cfg.path().join("daemon.json"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out} {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.ends_with("docker.io/library/busybox:latest\n"), "{out}");
    assert_eq!(image_id(&fresh, "busybox"), image_id(&b, "busybox"));
}

#[test]
fn root_credential_helper_is_used_for_login_and_pushes() {
    if !available() {
        return;
    }
    let reg = Registry::start(Some(("alice", "s3cret")));
    let tools = tempfile::tempdir().unwrap();
    let store = tools.path().join("store.json");
    // A credential helper speaking Docker's protocol, keeping one entry in a file.
    let helper = tools.path().join("docker-credential-berthtest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nstore={}\ncase \"$1\" in\n store) cat > \"$store\" ;;\n get) read url; [ -f \"$store\" ] && cat \"$store\" || {{ echo 'credentials not found in native keychain'; exit 1; }} ;;\n erase) rm -f \"$store\" ;;\nesac\n",
            store.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cfg = tempfile::tempdir().unwrap();
    std::fs::write(
        cfg.path().join("config.json"),
        r#"{"credsStore": "berthtest"}"#,
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        tools.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let b = busybox();
    let o = b
        .cmd(&["login", "-u", "alice", "--password-stdin", &reg.host()])
        .env("DOCKER_CONFIG", cfg.path())
        .env("PATH", &path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(b"s3cret\n")?;
            c.wait_with_output()
        })
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "Login Succeeded\n");
    let saved = std::fs::read_to_string(&store).unwrap();
    assert!(saved.contains("\"Username\":\"alice\""), "{saved}");
    let config = std::fs::read_to_string(cfg.path().join("config.json")).unwrap();
    assert!(
        !config.contains("auths"),
        "the helper keeps the secret: {config}"
    );
    let name = format!("{}/helper/bb:1", reg.host());
    b.run(&["tag", "busybox", &name]).ok();
    let o = b
        .cmd(&["push", &name])
        .env("DOCKER_CONFIG", cfg.path())
        .env("PATH", &path)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = b
        .cmd(&["logout", &reg.host()])
        .env("DOCKER_CONFIG", cfg.path())
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(!store.exists());
}

/// A PUT with a body to a plain-HTTP registry on 127.0.0.1; returns the status code.
fn http_put(host: &str, path: &str, content_type: &str, body: &[u8]) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "PUT {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// "TAG: digest: sha256:… size: N" from a push: (digest, size).
fn pushed(out: &str) -> (String, u64) {
    let last = out.lines().last().unwrap();
    let words: Vec<&str> = last.split_whitespace().collect();
    (words[2].to_string(), words[4].parse().unwrap())
}

#[test]
fn root_index_pull_picks_the_platform() {
    if !available() {
        return;
    }
    let reg = Registry::start(None);
    let b = busybox();
    // Two images standing for two platforms' builds of one image.
    let tar = common::busybox_tar();
    b.run(&[
        "import",
        "-c",
        r#"CMD ["echo", "other"]"#,
        tar.to_str().unwrap(),
        "bb-other",
    ])
    .ok();
    let (host_arch, other_arch) = if cfg!(target_arch = "aarch64") {
        ("arm64", "amd64")
    } else {
        ("amd64", "arm64")
    };
    let amd = format!("{}/multi:{host_arch}", reg.host());
    let other = format!("{}/multi:{other_arch}", reg.host());
    b.run(&["tag", "busybox", &amd]).ok();
    b.run(&["tag", "bb-other", &other]).ok();
    let (amd_digest, amd_size) = pushed(&b.run(&["push", &amd]).ok());
    let (other_digest, other_size) = pushed(&b.run(&["push", &other]).ok());
    let entry = |digest: &str, size: u64, arch: &str| {
        serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest, "size": size,
            "platform": {"architecture": arch, "os": "linux"},
        })
    };
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            entry(&other_digest, other_size, other_arch),
            entry(&amd_digest, amd_size, host_arch),
        ],
    });
    let status = http_put(
        &reg.host(),
        "/v2/multi/manifests/latest",
        "application/vnd.oci.image.index.v1+json",
        index.to_string().as_bytes(),
    );
    assert_eq!(status, 201, "the registry took the index");
    let name = format!("{}/multi", reg.host());
    // The host's platform by default; another one with --platform.
    let fresh = Berth::new();
    fresh.run(&["pull", "-q", &name]).ok();
    assert_eq!(image_id(&fresh, &name), image_id(&b, "busybox"));
    let fresh = Berth::new();
    let wanted = format!("linux/{other_arch}");
    fresh
        .run(&["pull", "-q", "--platform", &wanted, &name])
        .ok();
    assert_eq!(image_id(&fresh, &name), image_id(&b, "bb-other"));
    let r = Berth::new().run(&["pull", "--platform", "linux/s390x", &name]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("no matching manifest for linux/s390x in the manifest list entries"),
        "{}",
        r.stderr
    );
}

#[test]
fn root_progress_bars_on_a_terminal_plain_lines_otherwise() {
    if !available() {
        return;
    }
    let reg = Registry::start(None);
    let b = busybox();
    let name = format!("{}/bars/bb:1", reg.host());
    b.run(&["tag", "busybox", &name]).ok();
    // Not a terminal: one plain line per event, no cursor movement.
    let out = b.run(&["push", &name]).ok();
    assert!(!out.contains('\x1b'), "{out:?}");
    assert!(out.lines().any(|l| l.ends_with(": Pushed")), "{out}");
    // On a terminal: lines redrawn in place, a bar with sizes and speed per layer.
    let fresh = Berth::new();
    let (out, code) = common::in_pty(&fresh, &["pull", &name], 24, 100, &[], None);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("\x1b[2K"), "lines are redrawn: {out:?}");
    assert!(
        out.contains("\x1b[1A") || out.contains("\x1b[2A"),
        "{out:?}"
    );
    let bar = out
        .split("\x1b[2K")
        .find(|l| l.contains("Downloading ["))
        .unwrap_or_else(|| panic!("no progress bar in {out:?}"));
    assert!(
        bar.contains("/s") && bar.contains('>') && bar.contains(']'),
        "{bar:?}"
    );
    assert!(out.contains("Pull complete"), "{out:?}");
    assert!(
        out.contains(&format!("Status: Downloaded newer image for {name}")),
        "{out:?}"
    );
}

#[test]
fn root_unknown_registry_host_gives_one_clear_error() {
    // In a network namespace of its own with nothing but a downed loopback, no name can be
    // resolved and no packet leaves the machine.
    let b = Berth::new();
    let mut c = Command::new("unshare");
    c.arg("-n")
        .arg(common::bin())
        .arg("--root")
        .arg(b.root())
        .args(["pull", "registry.invalid/team/app:1"]);
    let r = common::run_command(c);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let errors: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(errors.len(), 1, "{}", r.stderr);
    assert!(
        errors[0].starts_with("Error: ")
            && errors[0].contains("registry.invalid")
            && (errors[0].contains("name resolution") || errors[0].contains("lookup")),
        "{}",
        r.stderr
    );
    assert_eq!(r.stdout, "", "nothing before the error, as Docker");
    assert_eq!(b.blob_count(), 0, "nothing stored");
    assert_eq!(b.run(&["images", "-q"]).ok(), "");
}
