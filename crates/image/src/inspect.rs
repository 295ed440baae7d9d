//! `docker image inspect` output, shaped like Docker's so scripts that read it keep working.

use serde_json::{json, Value};

use crate::images::{familiar, Image};
use crate::store::Store;

/// The Docker-shaped inspect object of one image.
pub fn image_inspect(store: &Store, img: &Image) -> Value {
    let cfg = img.config.config.clone().unwrap_or_default();
    let created_by_comment = img.config.history.last().and_then(|h| h.comment.clone());
    let config = json!({
        "Hostname": "",
        "Domainname": "",
        "User": cfg.user.clone().unwrap_or_default(),
        "AttachStdin": false,
        "AttachStdout": false,
        "AttachStderr": false,
        "ExposedPorts": cfg.exposed_ports,
        "Tty": false,
        "OpenStdin": false,
        "StdinOnce": false,
        "Env": cfg.env,
        "Cmd": cfg.cmd,
        "Healthcheck": cfg.healthcheck,
        "ArgsEscaped": cfg.args_escaped,
        "Image": "",
        "Volumes": cfg.volumes,
        "WorkingDir": cfg.working_dir.clone().unwrap_or_default(),
        "Entrypoint": cfg.entrypoint,
        "OnBuild": cfg.on_build,
        "Labels": cfg.labels,
        "StopSignal": cfg.stop_signal,
        "Shell": cfg.shell,
    });
    let config = strip_nulls_of(
        config,
        &[
            "Healthcheck",
            "ArgsEscaped",
            "StopSignal",
            "Shell",
            "ExposedPorts",
        ],
    );
    let upper = img.chain_ids().last().map(|c| store.layer_dir(c));
    let lowers: Vec<String> = img
        .chain_ids()
        .iter()
        .rev()
        .skip(1)
        .map(|c| store.layer_dir(c).display().to_string())
        .collect();
    json!({
        "Id": img.id().to_string(),
        "RepoTags": img.tags.iter().map(|t| familiar(t)).collect::<Vec<_>>(),
        "RepoDigests": img.record.repo_digests.iter().map(|t| {
            crate::Reference::parse(t).map(|r| match &r.digest {
                Some(d) => format!("{}@{d}", r.familiar_name()),
                None => r.familiar_name(),
            }).unwrap_or_else(|_| t.clone())
        }).collect::<Vec<_>>(),
        "Parent": img.record.parent.clone().unwrap_or_default(),
        "Comment": created_by_comment.unwrap_or_default(),
        "Created": img.config.created.clone().unwrap_or_default(),
        "DockerVersion": img.config.extra.get("docker_version").cloned().unwrap_or(json!("")),
        "Author": img.config.author.clone().unwrap_or_default(),
        "Config": config,
        "Architecture": img.config.architecture,
        "Variant": img.config.variant,
        "Os": img.config.os,
        "Size": store.image_size(img),
        "GraphDriver": {
            "Name": "overlay",
            "Data": {
                "LowerDir": if lowers.is_empty() { Value::Null } else { json!(lowers.join(":")) },
                "UpperDir": upper.map(|u| u.display().to_string()),
            }
        },
        "RootFS": {
            "Type": "layers",
            "Layers": img.diff_ids().iter().map(|d| d.to_string()).collect::<Vec<_>>(),
        },
        "Metadata": {
            "LastTagTime": img.record.last_tag_time.clone().unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
        },
        "Descriptor": {
            "mediaType": img.manifest.media_type().clone().map(|m| m.to_string()).unwrap_or_else(|| "application/vnd.oci.image.manifest.v1+json".into()),
            "digest": img.manifest_digest.to_string(),
            "size": store.blob_size(&img.manifest_digest).unwrap_or(0),
        },
    })
}

/// Docker omits these keys when unset instead of printing null.
fn strip_nulls_of(mut v: Value, keys: &[&str]) -> Value {
    if let Some(o) = v.as_object_mut() {
        for k in keys {
            if o.get(*k).is_some_and(Value::is_null) {
                o.remove(*k);
            }
        }
    }
    v
}
