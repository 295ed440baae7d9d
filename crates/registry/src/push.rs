//! `push`: layers (compressed with gzip once, remembered by the store) and config, each
//! skipped when the registry has it (HEAD), mounted from another repository of the same
//! registry when the image came from there (falling back to an upload when the mount is
//! refused), uploaded in one request when small and in chunks when large; the manifest last.

use std::io::{Read, Seek, SeekFrom};

use berth_image::layer::Compression;
use berth_image::{Digest, Reference, Store};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::client::Client;
use crate::config::RegistryConfig;
use crate::error::{Error, Result};
use crate::pull::{MT_DOCKER_MANIFEST, MT_OCI_MANIFEST};
use crate::{short, Event, Progress};

/// Blobs up to this size go in one PUT; larger ones in PATCH chunks of this size.
const CHUNK: u64 = 32 << 20;
const COMPRESSED: [&str; 4] = [
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
];

/// What `push` did: the manifest digest and size, as Docker prints them.
#[derive(Debug, Clone)]
pub struct Pushed {
    pub tag: String,
    pub digest: Digest,
    pub size: u64,
}

pub(crate) struct Blob {
    pub(crate) digest: Digest,
    pub(crate) size: u64,
    /// The id its progress lines show (none for the config blob).
    pub(crate) shown: Option<String>,
}

/// Where a layer blob comes from.
enum Source {
    /// A compressed blob in the store: (digest, size, media type).
    Stored(Digest, u64, String),
    /// An uncompressed layer (its diff id), gzip'd for the push.
    Compress(Digest),
}

impl Source {
    fn shown_id(&self) -> &str {
        match self {
            Source::Stored(d, _, _) | Source::Compress(d) => short(d),
        }
    }
}

fn with_query(location: &str, q: &str) -> String {
    if location.contains('?') {
        format!("{location}&{q}")
    } else {
        format!("{location}?{q}")
    }
}

fn location(client: &Client, resp: &reqwest::blocking::Response, what: &str) -> Result<String> {
    resp.headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(|l| client.url(l))
        .ok_or_else(|| Error::Status {
            registry: client.registry.clone(),
            what: what.to_string(),
            status: resp.status().as_u16(),
            body: "no Location header in the upload answer".into(),
        })
}

/// Uploads one blob unless the registry has it; returns the status shown for it.
pub(crate) fn upload_blob(
    client: &Client,
    store: &Store,
    path: &str,
    mount_from: Option<&str>,
    b: &Blob,
    progress: &dyn Progress,
) -> Result<String> {
    let mut scopes = vec![format!("repository:{path}:pull,push")];
    if let Some(from) = mount_from {
        scopes.push(format!("repository:{from}:pull"));
    }
    let what = format!("blob {}", b.digest);
    let head = client.send(
        Method::HEAD,
        &format!("/v2/{path}/blobs/{}", b.digest),
        &scopes,
        &|rb| Ok(rb),
    )?;
    if head.status().is_success() {
        return Ok("Layer already exists".into());
    }
    let start = match mount_from {
        Some(from) => format!("/v2/{path}/blobs/uploads/?mount={}&from={from}", b.digest),
        None => format!("/v2/{path}/blobs/uploads/"),
    };
    let resp = client.send(Method::POST, &start, &scopes, &|rb| {
        Ok(rb.header(reqwest::header::CONTENT_LENGTH, "0"))
    })?;
    if resp.status() == StatusCode::CREATED && mount_from.is_some() {
        return Ok(format!("Mounted from {}", mount_from.unwrap_or_default()));
    }
    if resp.status() != StatusCode::ACCEPTED {
        return Err(client.status_error(&format!("upload of {what}"), resp));
    }
    let mut loc = location(client, &resp, &what)?;
    let file_path = store.blob_path(&b.digest);
    let open = |offset: u64, len: u64| -> Result<reqwest::blocking::Body> {
        let mut f = std::fs::File::open(&file_path).map_err(|e| Error::Io {
            what: "open",
            path: file_path.clone(),
            source: e,
        })?;
        f.seek(SeekFrom::Start(offset)).map_err(|e| Error::Io {
            what: "seek",
            path: file_path.clone(),
            source: e,
        })?;
        Ok(reqwest::blocking::Body::sized(f.take(len), len))
    };
    let id = b.shown.clone().unwrap_or_default();
    let put = |loc: &str, body: Option<(u64, u64)>| -> Result<()> {
        let url = with_query(loc, &format!("digest={}", b.digest));
        let resp = client.send(Method::PUT, &url, &scopes, &|rb| {
            Ok(match body {
                Some((off, len)) => rb
                    .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                    .body(open(off, len)?),
                None => rb.header(reqwest::header::CONTENT_LENGTH, "0"),
            })
        })?;
        if resp.status() != StatusCode::CREATED {
            return Err(client.status_error(&format!("upload of {what}"), resp));
        }
        Ok(())
    };
    if b.size <= CHUNK {
        put(&loc, Some((0, b.size)))?;
    } else {
        let mut off = 0;
        while off < b.size {
            let len = CHUNK.min(b.size - off);
            let resp = client.send(Method::PATCH, &loc, &scopes, &|rb| {
                Ok(rb
                    .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                    .header(
                        reqwest::header::CONTENT_RANGE,
                        format!("{off}-{}", off + len - 1),
                    )
                    .body(open(off, len)?))
            })?;
            if resp.status() != StatusCode::ACCEPTED {
                return Err(client.status_error(&format!("upload of {what}"), resp));
            }
            loc = location(client, &resp, &what)?;
            off += len;
            progress.event(Event::Bytes {
                id: &id,
                done: off,
                total: b.size,
            });
        }
        put(&loc, None)?;
    }
    Ok("Pushed".into())
}

/// Pushes a tagged local image to its registry.
/// Every tag the store has in `reference`'s repository (`push --all-tags`, and the API's
/// push without a tag), as references.
pub fn local_tags(store: &Store, reference: &Reference) -> Result<Vec<Reference>> {
    let prefix = format!("{}:", reference.name());
    let idx = store.read_index()?;
    let mut out = Vec::new();
    for t in idx.tags.keys().filter(|t| t.starts_with(&prefix)) {
        out.push(Reference::parse(t)?);
    }
    Ok(out)
}

pub fn push(
    store: &Store,
    config: &RegistryConfig,
    reference: &Reference,
    progress: &dyn Progress,
) -> Result<Pushed> {
    let pushed = push_image(store, config, reference, progress)?;
    store.image_event(
        "push",
        &reference.familiar_tagged(),
        &reference.familiar_name(),
    );
    Ok(pushed)
}

fn push_image(
    store: &Store,
    config: &RegistryConfig,
    reference: &Reference,
    progress: &dyn Progress,
) -> Result<Pushed> {
    let tag = reference.tag.clone().unwrap_or_else(|| "latest".into());
    let name = format!("{}:{tag}", reference.name());
    let img = store
        .lookup(&name)
        .map_err(|_| Error::NoLocalTag(format!("{}:{tag}", reference.familiar_name())))?;
    let client = Client::new(config, &reference.domain)?;
    let path = reference.path.clone();
    progress.event(Event::Status(&format!(
        "The push refers to repository [{}]",
        reference.name()
    )));
    // Layers as the registry will get them: compressed blobs as they are, others gzip'd on the
    // way (compressing the next layer while earlier ones upload).
    let mut sources = Vec::new();
    for (desc, diff_id) in img.layer_descriptors().iter().zip(img.diff_ids()) {
        let d = Digest::parse(desc.digest().as_ref())?;
        let mt = desc.media_type().to_string();
        if COMPRESSED.contains(&mt.as_str()) && store.has_blob(&d) {
            sources.push(Source::Stored(d, desc.size(), mt));
        } else {
            sources.push(Source::Compress(diff_id.clone()));
        }
    }
    // Another repository of the same registry this image came from: blobs can be mounted.
    let mount_from = img.record.repo_digests.iter().find_map(|rd| {
        let (n, _) = rd.split_once('@')?;
        let r = Reference::parse(n).ok()?;
        (r.domain == reference.domain && r.path != path).then_some(r.path)
    });
    // Docker lists layers only (by the id it knows them by); the config blob goes up without a
    // line of its own.
    for src in &sources {
        progress.event(Event::Layer {
            id: src.shown_id(),
            status: "Preparing",
        });
    }
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Blob>();
    for src in &sources {
        if let Source::Stored(d, size, _) = src {
            let _ = ready_tx.send(Blob {
                digest: d.clone(),
                size: *size,
                shown: Some(short(d).to_string()),
            });
        }
    }
    let _ = ready_tx.send(Blob {
        digest: img.id().clone(),
        size: store.blob_size(img.id())?,
        shown: None,
    });
    let compressed = std::sync::Mutex::new(vec![None::<(Digest, u64)>; sources.len()]);
    let workers = config.max_concurrent_uploads.max(1);
    let ready_rx = std::sync::Mutex::new(ready_rx);
    let first_error = std::sync::Mutex::new(None::<Error>);
    let failed = || first_error.lock().map(|e| e.is_some()).unwrap_or(true);
    let fail = |e: Error| {
        if let Ok(mut g) = first_error.lock() {
            g.get_or_insert(e);
        }
    };
    std::thread::scope(|s| {
        // One layer at a time (each on every core), largest first, so that the upload still
        // running when the last compression ends is a small one.
        let mut order: Vec<(u64, usize, &Digest)> = sources
            .iter()
            .enumerate()
            .filter_map(|(i, src)| match src {
                Source::Compress(diff) => Some((store.blob_size(diff).unwrap_or(0), i, diff)),
                Source::Stored(..) => None,
            })
            .collect();
        order.sort_by_key(|o| std::cmp::Reverse(o.0));
        let tx = ready_tx;
        let (compressed, fail, failed) = (&compressed, &fail, &failed);
        s.spawn(move || {
            for (_, i, diff) in order {
                if failed() {
                    return;
                }
                match store.compressed_layer(diff, Compression::Gzip) {
                    Ok((d, size)) => {
                        if let Ok(mut c) = compressed.lock() {
                            c[i] = Some((d.clone(), size));
                        }
                        let _ = tx.send(Blob {
                            digest: d,
                            size,
                            shown: Some(short(diff).to_string()),
                        });
                    }
                    Err(e) => return fail(e.into()),
                }
            }
        });
        for _ in 0..workers {
            let ready_rx = &ready_rx;
            let (client, path, mount_from) = (&client, &path, &mount_from);
            s.spawn(move || loop {
                if failed() {
                    return;
                }
                let next = match ready_rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                let Ok(b) = next else { return };
                if let Some(id) = &b.shown {
                    progress.event(Event::Layer {
                        id,
                        status: "Pushing",
                    });
                }
                match upload_blob(client, store, path, mount_from.as_deref(), &b, progress) {
                    Ok(status) => {
                        if let Some(id) = &b.shown {
                            progress.event(Event::Layer {
                                id,
                                status: &status,
                            });
                        }
                    }
                    Err(e) => return fail(e),
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    let compressed = compressed.into_inner().unwrap_or_default();
    let mut layers = Vec::new();
    for (i, src) in sources.iter().enumerate() {
        match (src, &compressed[i]) {
            (Source::Stored(d, size, mt), _) => layers.push((d.clone(), *size, mt.clone())),
            (Source::Compress(_), Some((d, size))) => layers.push((
                d.clone(),
                *size,
                "application/vnd.oci.image.layer.v1.tar+gzip".to_string(),
            )),
            (Source::Compress(diff), None) => {
                return Err(Error::BadJson {
                    what: format!("layer {diff}"),
                    reason: "was not compressed".into(),
                })
            }
        }
    }
    let changed = sources.iter().any(|s| matches!(s, Source::Compress(_)));
    let manifest_digest = if changed {
        berth_image::import::write_manifest(
            store,
            img.id(),
            store.blob_size(img.id())?,
            layers
                .iter()
                .map(|(d, size, mt)| {
                    let digest: oci_spec::image::Digest =
                        d.to_string().parse().map_err(|e: oci_spec::OciSpecError| {
                            Error::BadJson {
                                what: "layer digest".into(),
                                reason: e.to_string(),
                            }
                        })?;
                    Ok(oci_spec::image::Descriptor::new(
                        oci_spec::image::MediaType::from(mt.as_str()),
                        *size,
                        digest,
                    ))
                })
                .collect::<Result<Vec<_>>>()?,
        )?
    } else {
        img.manifest_digest.clone()
    };
    let manifest_bytes = store.read_blob(&manifest_digest)?;
    let media_type = serde_json::from_slice::<Value>(&manifest_bytes)
        .ok()
        .and_then(|v| v["mediaType"].as_str().map(str::to_string))
        .unwrap_or_else(|| MT_OCI_MANIFEST.to_string());
    if media_type != MT_OCI_MANIFEST && media_type != MT_DOCKER_MANIFEST {
        return Err(Error::UnsupportedMediaType {
            what: "local manifest".into(),
            media_type,
        });
    }
    let scopes = vec![format!("repository:{path}:pull,push")];
    let resp = client.send(
        Method::PUT,
        &format!("/v2/{path}/manifests/{tag}"),
        &scopes,
        &|rb| {
            Ok(rb
                .header(reqwest::header::CONTENT_TYPE, media_type.clone())
                .body(manifest_bytes.clone()))
        },
    )?;
    if resp.status() != StatusCode::CREATED {
        return Err(client.status_error(&format!("manifest {}", reference.familiar_tagged()), resp));
    }
    let repo_digest = format!("{}@{manifest_digest}", reference.familiar_name());
    store.update_index(|idx| {
        if let Some(rec) = idx.images.get_mut(&img.manifest_digest) {
            if !rec.repo_digests.contains(&repo_digest) {
                rec.repo_digests.push(repo_digest.clone());
            }
        }
        Ok(())
    })?;
    Ok(Pushed {
        tag,
        digest: manifest_digest,
        size: manifest_bytes.len() as u64,
    })
}
