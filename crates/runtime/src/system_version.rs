//! `docker version`'s engine half (Docker's `types.Version`): what `berth version` prints
//! under "Server" and `GET /version` answers. It needs no store, so a user who cannot open
//! one still sees it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The newest Engine API version berth speaks (Docker 28.2's).
pub const API_VERSION: &str = "1.50";
/// The oldest.
pub const MIN_API_VERSION: &str = "1.24";

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Platform {
    pub name: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Component {
    pub name: String,
    pub version: String,
    pub details: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct VersionReport {
    pub platform: Platform,
    pub components: Vec<Component>,
    pub version: String,
    #[serde(rename = "ApiVersion")]
    pub api_version: String,
    #[serde(rename = "MinAPIVersion")]
    pub min_api_version: String,
    pub git_commit: String,
    pub go_version: String,
    pub os: String,
    pub arch: String,
    pub kernel_version: String,
    pub build_time: String,
}

/// Go's GOARCH names, which Docker's version uses (`info` has the kernel's).
pub fn go_arch(machine: &str) -> &str {
    match machine {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "armv7l" => "arm",
        "i686" | "i386" => "386",
        other => other,
    }
}

/// The engine's version report, for this host.
pub fn version_report() -> VersionReport {
    let uts = crate::system_info::uname();
    let arch = go_arch(&uts.machine).to_string();
    let version = env!("CARGO_PKG_VERSION").to_string();
    let details = [
        ("ApiVersion", API_VERSION),
        ("MinAPIVersion", MIN_API_VERSION),
        ("Os", "linux"),
        ("Arch", &arch),
        ("KernelVersion", &uts.release),
        ("Experimental", "false"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    VersionReport {
        platform: Platform {
            name: "berth".into(),
        },
        components: vec![Component {
            name: "Engine".into(),
            version: version.clone(),
            details,
        }],
        version,
        api_version: API_VERSION.into(),
        min_api_version: MIN_API_VERSION.into(),
        git_commit: String::new(),
        go_version: String::new(),
        os: "linux".into(),
        arch,
        kernel_version: uts.release,
        build_time: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_has_dockers_field_names_and_this_hosts_facts() {
        let v = serde_json::to_value(version_report()).unwrap();
        assert_eq!(v["ApiVersion"], API_VERSION);
        assert_eq!(v["MinAPIVersion"], MIN_API_VERSION);
        assert_eq!(v["Platform"]["Name"], "berth");
        assert_eq!(v["Components"][0]["Name"], "Engine");
        assert_eq!(v["Components"][0]["Details"]["ApiVersion"], API_VERSION);
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        assert_eq!(v["KernelVersion"], release.trim());
        assert_eq!(go_arch("x86_64"), "amd64");
        assert_eq!(go_arch("aarch64"), "arm64");
    }
}
