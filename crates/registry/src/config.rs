//! berth's registry settings, in the keys of Docker's daemon.json (`insecure-registries`,
//! `registry-mirrors`, `max-concurrent-downloads`, `max-concurrent-uploads`), read from
//! `$BERTH_CONFIG` or /etc/berth/daemon.json. Extra CA certificates for a registry go in
//! /etc/docker/certs.d/HOST[:PORT]/*.crt (Docker's place) or /etc/berth/certs.d/….

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Deserialize)]
pub struct RegistryConfig {
    #[serde(rename = "insecure-registries", default)]
    pub insecure_registries: Vec<String>,
    #[serde(rename = "registry-mirrors", default)]
    pub registry_mirrors: Vec<String>,
    #[serde(rename = "max-concurrent-downloads", default = "three")]
    pub max_concurrent_downloads: usize,
    #[serde(rename = "max-concurrent-uploads", default = "three")]
    pub max_concurrent_uploads: usize,
    /// Where CA certificates per registry are looked for.
    #[serde(skip)]
    pub certs_dirs: Vec<PathBuf>,
    /// Whose credentials reach the registry.
    #[serde(skip)]
    pub credentials: CredentialSource,
}

/// Where a registry client's credentials come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CredentialSource {
    /// The user's saved logins (`login`, Docker's config.json and helpers): the CLI.
    #[default]
    Saved,
    /// Only these, or none (the API server: each request brings its client's, in
    /// `X-Registry-Auth`, as dockerd, which never reads a client's logins).
    Given(Option<crate::auth::Credentials>),
}

fn three() -> usize {
    3
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            insecure_registries: Vec::new(),
            registry_mirrors: Vec::new(),
            max_concurrent_downloads: 3,
            max_concurrent_uploads: 3,
            certs_dirs: vec![
                PathBuf::from("/etc/berth/certs.d"),
                PathBuf::from("/etc/docker/certs.d"),
            ],
            credentials: CredentialSource::Saved,
        }
    }
}

impl RegistryConfig {
    /// `$BERTH_CONFIG`, else /etc/berth/daemon.json, else the defaults.
    pub fn load() -> Result<RegistryConfig> {
        let path = std::env::var_os("BERTH_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/etc/berth/daemon.json"));
        Self::load_from(&path)
    }

    pub fn load_from(path: &Path) -> Result<RegistryConfig> {
        let mut defaults = RegistryConfig::default();
        if let Some(dir) = std::env::var_os("BERTH_CERTS_D") {
            defaults.certs_dirs = vec![PathBuf::from(dir)];
        }
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(defaults),
            Err(e) => {
                return Err(Error::Io {
                    what: "read",
                    path: path.to_path_buf(),
                    source: e,
                })
            }
        };
        let mut c: RegistryConfig = serde_json::from_str(&text).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        c.certs_dirs = defaults.certs_dirs;
        c.max_concurrent_downloads = c.max_concurrent_downloads.max(1);
        c.max_concurrent_uploads = c.max_concurrent_uploads.max(1);
        Ok(c)
    }

    /// Plain HTTP is allowed for loopback registries and the configured insecure ones, as
    /// Docker allows it.
    pub fn is_insecure(&self, host: &str) -> bool {
        let name = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
        let name = name.trim_matches(|c| c == '[' || c == ']');
        if name == "localhost" || name == "::1" {
            return true;
        }
        if let Ok(ip) = name.parse::<std::net::Ipv4Addr>() {
            if ip.is_loopback() {
                return true;
            }
            for r in &self.insecure_registries {
                if let Some((net, bits)) = r.split_once('/') {
                    if let (Ok(net), Ok(bits)) =
                        (net.parse::<std::net::Ipv4Addr>(), bits.parse::<u32>())
                    {
                        let mask = if bits == 0 {
                            0
                        } else {
                            u32::MAX << (32 - bits.min(32))
                        };
                        if u32::from(ip) & mask == u32::from(net) & mask {
                            return true;
                        }
                    }
                }
            }
        }
        self.insecure_registries.iter().any(|r| r == host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_listed_registries_may_use_http() {
        let c = RegistryConfig {
            insecure_registries: vec!["reg.corp:5000".into(), "10.1.0.0/16".into()],
            ..RegistryConfig::default()
        };
        for h in [
            "localhost:5000",
            "127.0.0.1:5000",
            "127.8.0.1",
            "reg.corp:5000",
            "10.1.2.3:80",
        ] {
            assert!(c.is_insecure(h), "{h}");
        }
        for h in ["docker.io", "reg.corp", "10.2.0.1:5000", "ghcr.io"] {
            assert!(!c.is_insecure(h), "{h}");
        }
    }

    #[test]
    fn config_file_keys_are_docker_s() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("daemon.json");
        std::fs::write(
            &p,
            r#"{"insecure-registries":["r:1"],"max-concurrent-downloads":5}"#,
        )
        .unwrap();
        let c = RegistryConfig::load_from(&p).unwrap();
        assert_eq!(c.insecure_registries, vec!["r:1"]);
        assert_eq!(c.max_concurrent_downloads, 5);
        assert_eq!(c.max_concurrent_uploads, 3);
        std::fs::write(&p, "{not json").unwrap();
        let e = RegistryConfig::load_from(&p).unwrap_err().to_string();
        assert!(e.contains("daemon.json"), "{e}");
    }
}
