//! `docker info` and the Engine API's `GET /info`: what this engine and host are, with
//! Docker's field names, so the CLI renders it and the API serializes it as it is.

use serde::Serialize;

use crate::cgroups::{CgroupFs, Version};
use crate::error::{IoContext, Result};
use crate::lifecycle::Runtime;

/// The fields of Docker's `Info` that berth knows (the rest are swarm, plugins, …).
#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct SystemInfo {
    #[serde(rename = "ID")]
    pub id: String,
    pub containers: usize,
    pub containers_running: usize,
    pub containers_paused: usize,
    pub containers_stopped: usize,
    pub images: usize,
    pub driver: String,
    pub logging_driver: String,
    pub cgroup_driver: String,
    pub cgroup_version: String,
    pub kernel_version: String,
    pub operating_system: String,
    #[serde(rename = "OSType")]
    pub os_type: String,
    pub architecture: String,
    #[serde(rename = "NCPU")]
    pub ncpu: usize,
    pub mem_total: u64,
    pub docker_root_dir: String,
    pub name: String,
    pub server_version: String,
    pub default_runtime: String,
    pub security_options: Vec<String>,
    pub experimental_build: bool,
    pub debug: bool,
    pub live_restore_enabled: bool,
    pub system_time: String,
    pub warnings: Vec<String>,
}

impl Runtime {
    pub fn info(&self) -> Result<SystemInfo> {
        let containers = self.list()?;
        let count = |f: &dyn Fn(&crate::record::State) -> bool| {
            containers.iter().filter(|c| f(&c.state)).count()
        };
        let uts = uname();
        let cgroups = CgroupFs::host();
        Ok(SystemInfo {
            id: self.engine_id()?,
            containers: containers.len(),
            containers_running: count(&|s| s.running() && !s.paused),
            containers_paused: count(&|s| s.running() && s.paused),
            containers_stopped: count(&|s| !s.running()),
            images: self.store.list_images()?.len(),
            driver: "overlay".into(),
            logging_driver: "json-file".into(),
            cgroup_driver: "cgroupfs".into(),
            cgroup_version: match cgroups.version {
                Version::V1 => "1".into(),
                Version::V2 => "2".into(),
            },
            kernel_version: uts.release,
            operating_system: os_release(),
            os_type: "linux".into(),
            architecture: uts.machine,
            ncpu: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            mem_total: mem_total(),
            docker_root_dir: self.root().display().to_string(),
            name: uts.nodename,
            server_version: env!("CARGO_PKG_VERSION").into(),
            default_runtime: "libcontainer".into(),
            security_options: std::iter::once("name=seccomp,profile=builtin".to_string())
                .chain(
                    crate::userns_remap::configured(self.root())
                        .ok()
                        .flatten()
                        .map(|_| "name=userns".to_string()),
                )
                .collect(),
            experimental_build: false,
            debug: false,
            live_restore_enabled: false,
            system_time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            warnings: Vec::new(),
        })
    }

    /// This engine's ID: made once per root, as Docker's engine-id.
    fn engine_id(&self) -> Result<String> {
        let path = self.root().join("engine-id");
        if let Ok(id) = std::fs::read_to_string(&path) {
            if !id.trim().is_empty() {
                return Ok(id.trim().to_string());
            }
        }
        let id = crate::record::new_id();
        let tmp = self
            .root()
            .join(format!(".engine-id.{}", std::process::id()));
        std::fs::write(&tmp, &id).ctx("write", &tmp)?;
        // Another process may have made one meanwhile: the first one stays.
        if std::fs::hard_link(&tmp, &path).is_err() {
            let _ = std::fs::remove_file(&tmp);
            return std::fs::read_to_string(&path)
                .map(|s| s.trim().to_string())
                .ctx("read", &path);
        }
        let _ = std::fs::remove_file(&tmp);
        Ok(id)
    }
}

pub(crate) struct Uname {
    pub(crate) nodename: String,
    pub(crate) release: String,
    pub(crate) machine: String,
}

pub(crate) fn uname() -> Uname {
    // SAFETY: utsname is plain data that uname fills.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to our struct.
    unsafe { libc::uname(&mut u) };
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    Uname {
        nodename: field(&u.nodename),
        release: field(&u.release),
        machine: field(&u.machine),
    }
}

/// PRETTY_NAME of /etc/os-release, as Docker shows it.
fn os_release() -> String {
    parse_os_release(&std::fs::read_to_string("/etc/os-release").unwrap_or_default())
}

fn parse_os_release(text: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".into())
}

/// Bytes of RAM, from /proc/meminfo.
pub(crate) fn mem_total() -> u64 {
    parse_mem_total(&std::fs::read_to_string("/proc/meminfo").unwrap_or_default())
}

fn parse_mem_total(text: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_facts_are_read_as_docker_reads_them() {
        assert_eq!(
            parse_os_release("NAME=\"Debian\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"),
            "Debian GNU/Linux 12 (bookworm)"
        );
        assert_eq!(parse_os_release(""), "Linux");
        assert_eq!(
            parse_mem_total("MemTotal:       24576000 kB\nMemFree: 1 kB\n"),
            24576000 * 1024
        );
    }
}
