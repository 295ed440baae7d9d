//! A build cache in a registry (`build --cache-to type=registry,ref=REF`, `--cache-from`):
//! the step images pushed by digest to REF's repository, and the cache's OCI index under
//! REF's tag (format: `berth_image::build_cache_exchange`); or, to import, an image pushed
//! with an inline cache (`--cache-to type=inline`). Credentials are the saved ones, as for
//! push and pull.

use berth_image::build_cache_exchange::{CacheSink, CacheSource, MT_OCI_INDEX, MT_OCI_MANIFEST};
use berth_image::{Digest, Reference, Store};
use reqwest::{Method, StatusCode};

use crate::client::Client;
use crate::config::RegistryConfig;
use crate::pull::{download_blob, get_manifest};
use crate::push::{upload_blob, Blob};

/// A cache at a registry reference.
pub struct RegistryCache {
    client: Client,
    reference: Reference,
}

fn remote(e: crate::Error) -> berth_image::Error {
    berth_image::Error::Remote(e.to_string())
}

impl RegistryCache {
    /// For reading (`--cache-from`).
    pub fn for_import(config: &RegistryConfig, reference: &str) -> crate::Result<RegistryCache> {
        let reference = Reference::parse(reference)?;
        Ok(RegistryCache {
            client: Client::for_pull(config, &reference.domain)?,
            reference,
        })
    }

    /// For writing (`--cache-to`).
    pub fn for_export(config: &RegistryConfig, reference: &str) -> crate::Result<RegistryCache> {
        let reference = Reference::parse(reference)?;
        Ok(RegistryCache {
            client: Client::new(config, &reference.domain)?,
            reference,
        })
    }

    fn tag(&self) -> String {
        self.reference
            .tag
            .clone()
            .unwrap_or_else(|| "latest".into())
    }

    fn scopes(&self, push: bool) -> Vec<String> {
        let access = if push { "pull,push" } else { "pull" };
        vec![format!("repository:{}:{access}", self.reference.path)]
    }

    fn put_manifest_as(&self, name: &str, bytes: &[u8], media_type: &str) -> crate::Result<()> {
        let path = &self.reference.path;
        let resp = self.client.send(
            Method::PUT,
            &format!("/v2/{path}/manifests/{name}"),
            &self.scopes(true),
            &|rb| {
                Ok(rb
                    .header(reqwest::header::CONTENT_TYPE, media_type)
                    .body(bytes.to_vec()))
            },
        )?;
        if resp.status() != StatusCode::CREATED {
            return Err(self.client.status_error(
                &format!("manifest {}/{path}:{name}", self.client.registry),
                resp,
            ));
        }
        Ok(())
    }
}

impl CacheSink for RegistryCache {
    fn put_blob(&self, store: &Store, digest: &Digest, size: u64) -> berth_image::Result<()> {
        let blob = Blob {
            digest: digest.clone(),
            size,
            shown: None,
        };
        upload_blob(
            &self.client,
            store,
            &self.reference.path,
            None,
            &blob,
            &crate::Quiet,
        )
        .map(|_| ())
        .map_err(remote)
    }

    fn put_manifest(&self, bytes: &[u8], digest: &Digest) -> berth_image::Result<()> {
        self.put_manifest_as(&digest.to_string(), bytes, MT_OCI_MANIFEST)
            .map_err(remote)
    }

    fn put_index(&self, bytes: &[u8]) -> berth_image::Result<()> {
        self.put_manifest_as(&self.tag(), bytes, MT_OCI_INDEX)
            .map_err(remote)
    }
}

impl CacheSource for RegistryCache {
    fn describe(&self) -> String {
        format!("type=registry,ref={}", self.reference.familiar_tagged())
    }

    fn index(&self) -> berth_image::Result<Vec<u8>> {
        let (bytes, media_type, _) = get_manifest(
            &self.client,
            &self.reference.path,
            &self.tag(),
            &self.scopes(false),
        )
        .map_err(remote)?;
        // A cache's index, or an image that may carry an inline cache.
        if ![
            MT_OCI_INDEX,
            MT_OCI_MANIFEST,
            crate::pull::MT_DOCKER_MANIFEST,
        ]
        .contains(&media_type.as_str())
        {
            return Err(berth_image::Error::Remote(format!(
                "{} is a {media_type}, not a build cache or an image",
                self.reference.familiar_tagged()
            )));
        }
        Ok(bytes)
    }

    fn manifest(&self, digest: &Digest) -> berth_image::Result<Vec<u8>> {
        get_manifest(
            &self.client,
            &self.reference.path,
            &digest.to_string(),
            &self.scopes(false),
        )
        .map(|(bytes, _, _)| bytes)
        .map_err(remote)
    }

    fn fetch_blob(&self, store: &Store, digest: &Digest, size: u64) -> berth_image::Result<()> {
        download_blob(
            &self.client,
            store,
            &self.reference.path,
            &self.scopes(false),
            digest,
            size,
            &crate::Quiet,
        )
        .map_err(remote)
    }
}
