//! Image references, normalised the way Docker does (`busybox` → `docker.io/library/busybox:latest`).

use std::fmt;

use crate::digest::{is_sha256_hex, Digest};
use crate::error::{Error, Result};

pub const DEFAULT_DOMAIN: &str = "docker.io";
pub const DEFAULT_TAG: &str = "latest";
const OFFICIAL_PREFIX: &str = "library/";
const MAX_NAME_LEN: usize = 255;

/// A parsed, normalised image reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    /// Registry host, with port if any (`docker.io`, `localhost:5000`).
    pub domain: String,
    /// Repository path inside the registry (`library/busybox`).
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

impl Reference {
    /// Parses a reference as typed by a user and normalises it as Docker does.
    pub fn parse(input: &str) -> Result<Reference> {
        let bad = || Error::InvalidReference(input.to_string());
        if input.is_empty() {
            return Err(Error::InvalidReference(
                "repository name must have at least one component".into(),
            ));
        }
        if is_sha256_hex(input) {
            return Err(Error::InvalidReference(format!(
                "invalid repository name ({input}), cannot specify 64-byte hexadecimal strings"
            )));
        }
        let (name_and_tag, digest) = match input.split_once('@') {
            Some((n, d)) => (n, Some(Digest::parse(d).map_err(|_| bad())?)),
            None => (input, None),
        };
        let (name, tag) = match name_and_tag.rfind(':') {
            Some(i) if !name_and_tag[i + 1..].contains('/') => {
                (&name_and_tag[..i], Some(&name_and_tag[i + 1..]))
            }
            _ => (name_and_tag, None),
        };
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(bad());
            }
        }
        let (domain, mut path) = split_domain(name);
        if path.bytes().any(|b| b.is_ascii_uppercase()) {
            let shown = if domain == DEFAULT_DOMAIN && !path.contains('/') {
                format!("{OFFICIAL_PREFIX}{path}")
            } else {
                path.to_string()
            };
            return Err(Error::InvalidReference(format!(
                "repository name ({shown}) must be lowercase"
            )));
        }
        if !valid_domain(domain) || path.is_empty() || !path.split('/').all(valid_path_component) {
            return Err(bad());
        }
        let domain = if domain == "index.docker.io" {
            DEFAULT_DOMAIN
        } else {
            domain
        };
        let owned_path;
        if domain == DEFAULT_DOMAIN && !path.contains('/') {
            owned_path = format!("{OFFICIAL_PREFIX}{path}");
            path = &owned_path;
        }
        if domain.len() + 1 + path.len() > MAX_NAME_LEN {
            return Err(Error::InvalidReference(format!(
                "repository name must not be more than {MAX_NAME_LEN} characters"
            )));
        }
        Ok(Reference {
            domain: domain.to_string(),
            path: path.to_string(),
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// Parses and adds the `latest` tag when neither a tag nor a digest was given.
    pub fn parse_tagged_default(input: &str) -> Result<Reference> {
        let mut r = Reference::parse(input)?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some(DEFAULT_TAG.to_string());
        }
        Ok(r)
    }

    /// `docker.io/library/busybox`
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// `busybox`, `user/app`, `localhost:5000/app`: the short form Docker shows.
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            self.path
                .strip_prefix(OFFICIAL_PREFIX)
                .unwrap_or(&self.path)
                .to_string()
        } else {
            self.name()
        }
    }

    /// The key under which a tag is stored: `docker.io/library/busybox:latest`.
    pub fn tagged_name(&self) -> Option<String> {
        self.tag.as_ref().map(|t| format!("{}:{}", self.name(), t))
    }

    /// `busybox:latest`
    pub fn familiar_tagged(&self) -> String {
        match &self.tag {
            Some(t) => format!("{}:{}", self.familiar_name(), t),
            None => self.familiar_name(),
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

fn split_domain(name: &str) -> (&str, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains('.')
                || first.contains(':')
                || first == "localhost"
                || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (first, rest)
        }
        _ => (DEFAULT_DOMAIN, name),
    }
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn valid_domain(d: &str) -> bool {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || d.starts_with('[') => (h, Some(p)),
        _ => (d, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    if host.starts_with('[') && host.ends_with(']') {
        return host[1..host.len() - 1]
            .parse::<std::net::Ipv6Addr>()
            .is_ok();
    }
    !host.is_empty()
        && host.split('.').all(|c| {
            let b = c.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'-')
        })
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(s: &str) -> String {
        Reference::parse_tagged_default(s).unwrap().to_string()
    }

    #[test]
    fn normalises_like_docker() {
        assert_eq!(full("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(full("user/app:1.0"), "docker.io/user/app:1.0");
        assert_eq!(full("localhost/app"), "localhost/app:latest");
        assert_eq!(
            full("localhost:5000/team/app:v2"),
            "localhost:5000/team/app:v2"
        );
        assert_eq!(full("127.0.0.1:5000/app"), "127.0.0.1:5000/app:latest");
        assert_eq!(
            full("index.docker.io/library/debian:12"),
            "docker.io/library/debian:12"
        );
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(
            full(&format!("busybox@{d}")),
            format!("docker.io/library/busybox@{d}")
        );
        assert_eq!(
            full(&format!("busybox:1.36@{d}")),
            format!("docker.io/library/busybox:1.36@{d}")
        );
        let r = Reference::parse("ghcr.io/a/b-c__d.e:x").unwrap();
        assert_eq!(r.familiar_name(), "ghcr.io/a/b-c__d.e");
        assert_eq!(
            Reference::parse("busybox").unwrap().familiar_name(),
            "busybox"
        );
    }

    #[test]
    fn rejects_bad_references() {
        let e = Reference::parse("Foo:bar").unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid reference format: repository name (library/Foo) must be lowercase"
        );
        assert_eq!(
            Reference::parse("a:b:c").unwrap_err().to_string(),
            "invalid reference format: a:b:c"
        );
        for bad in [
            "",
            "a/",
            "/a",
            "a//b",
            "a:",
            "a:-x",
            "a@sha256:12",
            "a..b",
            "-a",
            "a b",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
