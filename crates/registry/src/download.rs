//! Plain HTTP(S) downloads for the builder's `ADD <url>`, with the same TLS setup as registry
//! traffic (the host's CA bundle).

use std::io::Write;

use crate::client::{describe, http_client};
use crate::config::RegistryConfig;
use crate::error::{Error, Result};

/// What a download left besides the bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Downloaded {
    pub bytes: u64,
    /// The server's Last-Modified, as Unix seconds (ADD gives the file that mtime).
    pub last_modified: Option<i64>,
}

/// Streams the body of `GET url` into `out`; any answer but 2xx is an error naming the URL.
pub fn download(url: &str, out: &mut dyn Write) -> Result<Downloaded> {
    let fail = |reason: String| Error::Http {
        url: url.to_string(),
        reason,
    };
    let host = url
        .split_once("://")
        .map(|(_, rest)| rest.split('/').next().unwrap_or(rest))
        .unwrap_or(url);
    let client = http_client(&RegistryConfig::default(), host, false)?;
    let mut resp = client.get(url).send().map_err(|e| fail(describe(&e)))?;
    if !resp.status().is_success() {
        return Err(fail(format!("the server answered {}", resp.status())));
    }
    let last_modified = resp
        .headers()
        .get(reqwest::header::LAST_MODIFIED)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
        .map(|t| t.timestamp());
    let bytes = resp.copy_to(out).map_err(|e| fail(describe(&e)))?;
    Ok(Downloaded {
        bytes,
        last_modified,
    })
}
