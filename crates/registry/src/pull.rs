//! `pull`: manifest (picking the platform from an index / manifest list), config, then the
//! layers, fetched in parallel, streamed to disk through the store's digest-checking writer,
//! resumed with HTTP Range after a dropped connection, and unpacked in order as soon as each
//! one and those below it are in. Nothing becomes visible unless its digest matched.

use std::io::Read;
use std::sync::mpsc;

use berth_image::{Digest, Image, Reference, Store};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::client::{describe, Client};
use crate::config::RegistryConfig;
use crate::error::{Error, Result};
use crate::{short, Event, Progress};

pub const MT_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MT_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const MT_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MT_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const CONFIG_TYPES: [&str; 2] = [
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
];
const LAYER_TYPES: [&str; 7] = [
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
];
/// How often a dropped blob download is resumed before giving up.
const RESUMES: u32 = 5;

#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// `--platform os/arch[/variant]`; the host's platform when absent.
    pub platform: Option<String>,
}

/// `os/arch[/variant]` of this machine, in Go's names.
pub fn host_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64/v8",
        "arm" => "arm/v7",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        a => a,
    };
    format!("linux/{arch}")
}

fn parse_platform(p: &str) -> Result<(String, String, Option<String>)> {
    let parts: Vec<&str> = p.split('/').collect();
    match parts.as_slice() {
        [os, arch] if !os.is_empty() && !arch.is_empty() => {
            Ok((os.to_string(), arch.to_string(), None))
        }
        [os, arch, v] if !os.is_empty() && !arch.is_empty() => {
            Ok((os.to_string(), arch.to_string(), Some(v.to_string())))
        }
        _ => Err(Error::BadPlatform(p.to_string())),
    }
}

/// The entry of an index that matches the platform.
pub(crate) fn choose_platform(index: &Value, platform: &str) -> Result<Value> {
    let (os, arch, variant) = parse_platform(platform)?;
    let entries = index["manifests"].as_array().cloned().unwrap_or_default();
    let matches = |m: &Value, want_variant: bool| {
        let p = &m["platform"];
        p["os"] == os.as_str()
            && p["architecture"] == arch.as_str()
            && (!want_variant || variant.is_none() || p["variant"].as_str() == variant.as_deref())
    };
    entries
        .iter()
        .find(|m| matches(m, true))
        .or_else(|| entries.iter().find(|m| matches(m, false)))
        .cloned()
        .ok_or_else(|| Error::NoPlatform {
            platform: platform.to_string(),
        })
}

/// Fetches a manifest by tag or digest: (bytes, media type, digest of the bytes).
pub(crate) fn get_manifest(
    client: &Client,
    path: &str,
    reference: &str,
    scopes: &[String],
) -> Result<(Vec<u8>, String, Digest)> {
    let what = format!("manifest {}/{path}:{reference}", client.registry);
    let accept = [
        MT_OCI_INDEX,
        MT_DOCKER_LIST,
        MT_OCI_MANIFEST,
        MT_DOCKER_MANIFEST,
    ]
    .join(", ");
    let resp = client.send(
        Method::GET,
        &format!("/v2/{path}/manifests/{reference}"),
        scopes,
        &|rb| Ok(rb.header(reqwest::header::ACCEPT, accept.clone())),
    )?;
    if !resp.status().is_success() {
        let name = format!("{}/{path}:{reference}", client.registry);
        return Err(match resp.status() {
            StatusCode::NOT_FOUND => Error::NotFound(format!("manifest for {name}")),
            _ => client.status_error(&what, resp),
        });
    }
    let ct = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    // Manifests are small; a registry sending more than 4 MiB is refused (Docker's limit).
    let mut bytes = Vec::new();
    resp.take((4 << 20) + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::Http {
            url: what.clone(),
            reason: e.to_string(),
        })?;
    if bytes.len() > 4 << 20 {
        return Err(Error::Status {
            registry: client.registry.clone(),
            what,
            status: 200,
            body: "manifest larger than 4 MiB".into(),
        });
    }
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| Error::BadJson {
        what: what.clone(),
        reason: e.to_string(),
    })?;
    let media_type = v["mediaType"].as_str().map(str::to_string).unwrap_or(ct);
    Ok((bytes.clone(), media_type, Digest::of(&bytes)))
}

/// Downloads one blob into the store, resuming after dropped connections; verified by
/// digest before it becomes visible.
pub(crate) fn download_blob(
    client: &Client,
    store: &Store,
    path: &str,
    scopes: &[String],
    digest: &Digest,
    size: u64,
    progress: &dyn Progress,
) -> Result<()> {
    let id = short(digest).to_string();
    let url = format!("/v2/{path}/blobs/{digest}");
    let mut w = store.blob_writer()?;
    let mut resumes = 0;
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let offset = w.len();
        let resp = client.send(Method::GET, &url, scopes, &|rb| {
            Ok(if offset > 0 {
                rb.header(reqwest::header::RANGE, format!("bytes={offset}-"))
            } else {
                rb
            })
        });
        let mut resp = match resp {
            Ok(r) => r,
            Err(e @ Error::Http { .. }) if resumes < RESUMES => {
                resumes += 1;
                let _ = e;
                std::thread::sleep(std::time::Duration::from_millis(200 << resumes));
                continue;
            }
            Err(e) => return Err(e),
        };
        match resp.status() {
            StatusCode::OK if offset > 0 => w = store.blob_writer()?, // no Range support: restart
            StatusCode::OK | StatusCode::PARTIAL_CONTENT => {}
            _ => return Err(client.status_error(&format!("blob {digest}"), resp)),
        }
        let mut dropped = None;
        loop {
            match resp.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    std::io::Write::write_all(&mut w, &buf[..n]).map_err(|e| Error::Io {
                        what: "write",
                        path: w.path().to_path_buf(),
                        source: e,
                    })?;
                    if size > 0 && w.len() > size {
                        return Err(Error::DigestMismatch {
                            what: format!("blob {digest}"),
                            expected: format!("{size} bytes"),
                            actual: format!("more than {size} bytes"),
                        });
                    }
                    progress.event(Event::Bytes {
                        id: &id,
                        done: w.len(),
                        total: size,
                    });
                }
                Err(e) => {
                    dropped = Some(e);
                    break;
                }
            }
        }
        match dropped {
            None if size == 0 || w.len() >= size => break,
            // The connection ended early (or broke): ask for the rest.
            _ if resumes < RESUMES => {
                resumes += 1;
                std::thread::sleep(std::time::Duration::from_millis(100 << resumes));
            }
            Some(e) => {
                return Err(Error::Http {
                    url: client.url(&url),
                    reason: format!("download interrupted {resumes} times, last: {e}"),
                })
            }
            None => {
                return Err(Error::Http {
                    url: client.url(&url),
                    reason: format!("connection closed after {} of {size} bytes", w.len()),
                })
            }
        }
    }
    w.commit(Some(digest)).map(|_| ()).map_err(|e| match e {
        berth_image::Error::DigestMismatch {
            expected, actual, ..
        } => Error::DigestMismatch {
            what: format!("blob from {}/{path}", client.registry),
            expected,
            actual,
        },
        e => e.into(),
    })
}

fn digest_of(v: &Value, what: &str) -> Result<Digest> {
    let s = v["digest"].as_str().ok_or_else(|| Error::BadJson {
        what: what.to_string(),
        reason: "no digest".into(),
    })?;
    Digest::parse(s).map_err(|e| Error::BadJson {
        what: what.to_string(),
        reason: e.to_string(),
    })
}

/// Pulls one reference (tag or digest) into the store, tags it, and returns the image.
/// What a pull did: the image, and whether it is newer than what the store had under that
/// name (the two status lines Docker ends a pull with).
pub struct Pulled {
    pub image: Image,
    pub newer: bool,
}

impl Pulled {
    pub fn status_line(&self, reference: &Reference) -> String {
        let shown = reference.familiar_tagged();
        if self.newer {
            format!("Status: Downloaded newer image for {shown}")
        } else {
            format!("Status: Image is up to date for {shown}")
        }
    }
}

/// `pull`, noting whether the image under that name changed.
pub fn pull_reporting(
    store: &Store,
    config: &RegistryConfig,
    reference: &Reference,
    opts: &PullOptions,
    progress: &dyn Progress,
) -> Result<Pulled> {
    let before = store
        .lookup(&reference.to_string())
        .ok()
        .map(|i| i.manifest_digest);
    let image = pull(store, config, reference, opts, progress)?;
    Ok(Pulled {
        newer: before.as_ref() != Some(&image.manifest_digest),
        image,
    })
}

pub fn pull(
    store: &Store,
    config: &RegistryConfig,
    reference: &Reference,
    opts: &PullOptions,
    progress: &dyn Progress,
) -> Result<Image> {
    let client = Client::for_pull(config, &reference.domain)?;
    let img = pull_with(&client, store, config, reference, opts, progress)?;
    // Docker's pull event: the reference pulled, named by its repository.
    store.image_event(
        "pull",
        &reference.familiar_tagged(),
        &reference.familiar_name(),
    );
    Ok(img)
}

pub fn pull_with(
    client: &Client,
    store: &Store,
    config: &RegistryConfig,
    reference: &Reference,
    opts: &PullOptions,
    progress: &dyn Progress,
) -> Result<Image> {
    let path = reference.path.clone();
    let scopes = vec![format!("repository:{path}:pull")];
    let wanted = match (&reference.digest, &reference.tag) {
        (Some(d), _) => d.to_string(),
        (None, Some(t)) => t.clone(),
        (None, None) => "latest".to_string(),
    };
    let (mut bytes, mut media_type, top_digest) = get_manifest(client, &path, &wanted, &scopes)?;
    // Only once the registry has answered, as Docker (an unknown host or image prints just
    // the error).
    if let Some(t) = &reference.tag {
        if reference.digest.is_none() {
            progress.event(Event::Status(&format!("{t}: Pulling from {path}")));
        }
    } else {
        progress.event(Event::Status(&format!("{wanted}: Pulling from {path}")));
    }
    if let Some(d) = &reference.digest {
        if *d != top_digest {
            return Err(Error::DigestMismatch {
                what: format!("manifest {}", reference.familiar_name()),
                expected: d.to_string(),
                actual: top_digest.to_string(),
            });
        }
    }
    let mut manifest_digest = top_digest.clone();
    if media_type == MT_OCI_INDEX || media_type == MT_DOCKER_LIST {
        let index: Value = serde_json::from_slice(&bytes).map_err(|e| Error::BadJson {
            what: "manifest list".into(),
            reason: e.to_string(),
        })?;
        let platform = opts.platform.clone().unwrap_or_else(host_platform);
        let entry = choose_platform(&index, &platform)?;
        let d = digest_of(&entry, "manifest list entry")?;
        let (b, mt, got) = get_manifest(client, &path, &d.to_string(), &scopes)?;
        if got != d {
            return Err(Error::DigestMismatch {
                what: format!("manifest for {platform}"),
                expected: d.to_string(),
                actual: got.to_string(),
            });
        }
        bytes = b;
        media_type = mt;
        manifest_digest = d;
    }
    if media_type != MT_OCI_MANIFEST && media_type != MT_DOCKER_MANIFEST {
        return Err(Error::UnsupportedMediaType {
            what: format!("manifest of {}", reference.familiar_name()),
            media_type,
        });
    }
    let manifest: Value = serde_json::from_slice(&bytes).map_err(|e| Error::BadJson {
        what: "manifest".into(),
        reason: e.to_string(),
    })?;
    let cfg = &manifest["config"];
    let cfg_type = cfg["mediaType"].as_str().unwrap_or_default();
    if !CONFIG_TYPES.contains(&cfg_type) {
        return Err(Error::UnsupportedMediaType {
            what: "image config".into(),
            media_type: cfg_type.to_string(),
        });
    }
    let layers = manifest["layers"].as_array().cloned().unwrap_or_default();
    for l in &layers {
        let t = l["mediaType"].as_str().unwrap_or_default();
        if !LAYER_TYPES.contains(&t) {
            return Err(Error::UnsupportedMediaType {
                what: "layer".into(),
                media_type: t.to_string(),
            });
        }
    }
    let cfg_digest = digest_of(cfg, "config")?;
    if !store.has_blob(&cfg_digest) {
        download_blob(
            client,
            store,
            &path,
            &scopes,
            &cfg_digest,
            cfg["size"].as_u64().unwrap_or(0),
            &crate::Quiet,
        )?;
    }
    let image_config = store.read_config(&cfg_digest)?;
    let diff_ids = image_config.rootfs.diff_ids.clone();
    if diff_ids.len() != layers.len() {
        return Err(Error::BadJson {
            what: "image config".into(),
            reason: format!(
                "{} layers in the manifest, {} diff ids in the config",
                layers.len(),
                diff_ids.len()
            ),
        });
    }
    let descs: Vec<(Digest, u64)> = layers
        .iter()
        .map(|l| Ok((digest_of(l, "layer")?, l["size"].as_u64().unwrap_or(0))))
        .collect::<Result<_>>()?;
    fetch_and_unpack(
        client, store, config, &path, &scopes, &descs, &diff_ids, progress,
    )?;
    let stored = store.write_blob(&bytes)?;
    if stored != manifest_digest {
        return Err(Error::DigestMismatch {
            what: "manifest".into(),
            expected: manifest_digest.to_string(),
            actual: stored.to_string(),
        });
    }
    let tags: Vec<Reference> = if reference.tag.is_some() && reference.digest.is_none() {
        vec![reference.clone()]
    } else {
        Vec::new()
    };
    let repo_digest = format!("{}@{}", reference.familiar_name(), top_digest);
    let img = store.add_image(&manifest_digest, &tags, Some(repo_digest))?;
    progress.event(Event::Status(&format!("Digest: {top_digest}")));
    Ok(img)
}

/// Downloads the missing layers with a few workers while this thread unpacks them in order.
#[allow(clippy::too_many_arguments)]
fn fetch_and_unpack(
    client: &Client,
    store: &Store,
    config: &RegistryConfig,
    path: &str,
    scopes: &[String],
    descs: &[(Digest, u64)],
    diff_ids: &[Digest],
    progress: &dyn Progress,
) -> Result<()> {
    let chain: Vec<Digest> = berth_image::layers::chain_ids(diff_ids);
    let mut ready = vec![false; descs.len()];
    let mut todo = Vec::new();
    for (i, (d, _)) in descs.iter().enumerate() {
        let id = short(d);
        if store.has_blob(d) && store.has_layer(&chain[i]) {
            progress.event(Event::Layer {
                id,
                status: "Already exists",
            });
            ready[i] = true;
        } else if store.has_blob(d) {
            ready[i] = true;
        } else {
            progress.event(Event::Layer {
                id,
                status: "Pulling fs layer",
            });
            todo.push(i);
        }
    }
    let workers = config.max_concurrent_downloads.min(todo.len()).max(1);
    let queue = std::sync::Mutex::new(todo.into_iter());
    let (tx, rx) = mpsc::channel::<(usize, Result<()>)>();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| -> Result<()> {
        for _ in 0..workers {
            let tx = tx.clone();
            let (queue, stop) = (&queue, &stop);
            s.spawn(move || loop {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    return;
                }
                let next = queue.lock().ok().and_then(|mut q| q.next());
                let Some(i) = next else { return };
                let (d, size) = &descs[i];
                let r = download_blob(client, store, path, scopes, d, *size, progress);
                if r.is_ok() {
                    progress.event(Event::Layer {
                        id: short(d),
                        status: "Download complete",
                    });
                }
                if tx.send((i, r)).is_err() {
                    return;
                }
            });
        }
        drop(tx);
        let mut result = Ok(());
        let mut next = 0;
        let unpack_ready = |ready: &[bool], next: &mut usize| -> Result<()> {
            while *next < descs.len() && ready[*next] {
                let i = *next;
                let parent = if i == 0 { None } else { Some(&chain[i - 1]) };
                let had = store.has_layer(&chain[i]);
                store.ensure_layer(parent, &descs[i].0, &diff_ids[i])?;
                if !had {
                    progress.event(Event::Layer {
                        id: short(&descs[i].0),
                        status: "Pull complete",
                    });
                }
                *next += 1;
            }
            Ok(())
        };
        if let Err(e) = unpack_ready(&ready, &mut next) {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            return Err(e);
        }
        for (i, r) in rx {
            match r {
                Ok(()) => {
                    ready[i] = true;
                    if result.is_ok() {
                        if let Err(e) = unpack_ready(&ready, &mut next) {
                            stop.store(true, std::sync::atomic::Ordering::Relaxed);
                            result = Err(e);
                        }
                    }
                }
                Err(e) => {
                    stop.store(true, std::sync::atomic::Ordering::Relaxed);
                    if result.is_ok() {
                        result = Err(e);
                    }
                }
            }
        }
        result
    })
}

/// `GET /v2/NAME/tags/list` (for `pull --all-tags`).
pub fn list_tags(config: &RegistryConfig, reference: &Reference) -> Result<Vec<String>> {
    let client = Client::for_pull(config, &reference.domain)?;
    let scopes = vec![format!("repository:{}:pull", reference.path)];
    let resp = client.send(
        Method::GET,
        &format!("/v2/{}/tags/list", reference.path),
        &scopes,
        &|rb| Ok(rb),
    )?;
    if !resp.status().is_success() {
        return Err(client.status_error(&format!("tags of {}", reference.familiar_name()), resp));
    }
    let v: Value = resp.json().map_err(|e| Error::BadJson {
        what: "tag list".into(),
        reason: describe(&e),
    })?;
    let mut tags: Vec<String> = v["tags"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    tags.sort();
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_is_chosen_from_an_index() {
        let index: Value = serde_json::from_str(
            r#"{"manifests":[
              {"digest":"sha256:aa","platform":{"os":"linux","architecture":"arm","variant":"v6"}},
              {"digest":"sha256:bb","platform":{"os":"linux","architecture":"arm","variant":"v7"}},
              {"digest":"sha256:cc","platform":{"os":"linux","architecture":"amd64"}}]}"#,
        )
        .unwrap();
        assert_eq!(
            choose_platform(&index, "linux/amd64").unwrap()["digest"],
            "sha256:cc"
        );
        assert_eq!(
            choose_platform(&index, "linux/arm/v7").unwrap()["digest"],
            "sha256:bb"
        );
        assert_eq!(
            choose_platform(&index, "linux/arm").unwrap()["digest"],
            "sha256:aa"
        );
        let e = choose_platform(&index, "linux/s390x")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "no matching manifest for linux/s390x in the manifest list entries"
        );
        assert!(choose_platform(&index, "linux").is_err());
    }
}
