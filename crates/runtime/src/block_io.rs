//! Block I/O limits (`--blkio-weight`, `--blkio-weight-device`, `--device-read-bps`,
//! `--device-write-bps`, `--device-read-iops`, `--device-write-iops`): Docker's HostConfig
//! fields, checked and resolved to device numbers at create, and what the host's cgroups can
//! do. As Docker's daemon, a limit the kernel cannot apply (no `blkio.weight` without the
//! BFQ scheduler, for one) is discarded with a warning, not refused.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::cgroups::{CgroupFs, Version};
use crate::container_config::HostConfig;
use crate::error::{Error, Result};

/// Docker's `WeightDevice`: a relative weight for one device.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct WeightDevice {
    pub path: String,
    pub weight: u16,
}

/// Docker's `ThrottleDevice`: bytes or operations per second for one device.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ThrottleDevice {
    pub path: String,
    pub rate: u64,
}

/// One device's value, by device number, as the cgroup files take it.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceValue {
    pub major: u64,
    pub minor: u64,
    pub value: u64,
}

/// The block I/O limits of a container, resolved at create.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(default)]
pub struct BlockIo {
    pub weight: Option<u16>,
    pub weight_devices: Vec<DeviceValue>,
    pub read_bps: Vec<DeviceValue>,
    pub write_bps: Vec<DeviceValue>,
    pub read_iops: Vec<DeviceValue>,
    pub write_iops: Vec<DeviceValue>,
}

impl BlockIo {
    pub fn is_empty(&self) -> bool {
        *self == BlockIo::default()
    }

    /// The OCI spec's `linux.resources.blockIO`.
    pub fn to_oci(&self) -> serde_json::Value {
        let list = |v: &[DeviceValue], key: &str| -> Vec<serde_json::Value> {
            v.iter()
                .map(|d| serde_json::json!({"major": d.major, "minor": d.minor, key: d.value}))
                .collect()
        };
        let mut o = serde_json::Map::new();
        if let Some(w) = self.weight {
            o.insert("weight".into(), w.into());
        }
        for (key, v, field) in [
            ("weightDevice", &self.weight_devices, "weight"),
            ("throttleReadBpsDevice", &self.read_bps, "rate"),
            ("throttleWriteBpsDevice", &self.write_bps, "rate"),
            ("throttleReadIOPSDevice", &self.read_iops, "rate"),
            ("throttleWriteIOPSDevice", &self.write_iops, "rate"),
        ] {
            if !v.is_empty() {
                o.insert(key.into(), list(v, field).into());
            }
        }
        serde_json::Value::Object(o)
    }
}

/// Which block I/O limits the host's cgroups can apply (Docker's `sysinfo.cgroupBlkioInfo`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlockIoSupport {
    pub weight: bool,
    pub weight_device: bool,
    pub read_bps: bool,
    pub write_bps: bool,
    pub read_iops: bool,
    pub write_iops: bool,
}

impl BlockIoSupport {
    /// v1: the blkio hierarchy's files (the weights need the BFQ or CFQ scheduler); v2: the
    /// `io` controller.
    pub fn of(cg: &CgroupFs) -> BlockIoSupport {
        match cg.version {
            Version::V1 => {
                let has = |names: &[&str]| names.iter().any(|n| cg.v1_root_file("blkio", n));
                BlockIoSupport {
                    weight: has(&["blkio.weight", "blkio.bfq.weight"]),
                    weight_device: has(&["blkio.weight_device", "blkio.bfq.weight_device"]),
                    read_bps: has(&["blkio.throttle.read_bps_device"]),
                    write_bps: has(&["blkio.throttle.write_bps_device"]),
                    read_iops: has(&["blkio.throttle.read_iops_device"]),
                    write_iops: has(&["blkio.throttle.write_iops_device"]),
                }
            }
            Version::V2 => {
                let io = cg.v2_controllers().iter().any(|c| c == "io");
                BlockIoSupport {
                    weight: io,
                    weight_device: io,
                    read_bps: io,
                    write_bps: io,
                    read_iops: io,
                    write_iops: io,
                }
            }
        }
    }
}

/// Whether `h` asks for any block I/O limit (the host's support is read only then: creating
/// a container is a hot path).
pub fn asked(h: &HostConfig) -> bool {
    h.blkio_weight > 0
        || !h.blkio_weight_device.is_empty()
        || !h.blkio_device_read_bps.is_empty()
        || !h.blkio_device_write_bps.is_empty()
        || !h.blkio_device_read_iops.is_empty()
        || !h.blkio_device_write_iops.is_empty()
}

/// Docker's checks of HostConfig's block I/O fields: what the host cannot apply is dropped
/// with Docker's warning; a weight outside 10–1000 is refused; device paths are resolved to
/// their numbers (a path that is not a block device is refused).
pub fn resolve(h: &HostConfig, support: BlockIoSupport) -> Result<(BlockIo, Vec<String>)> {
    let mut warnings = Vec::new();
    let mut warn_unless = |ok: bool, given: bool, what: &str| -> bool {
        if given && !ok {
            warnings.push(format!(
                "Your kernel does not support {what} or the cgroup is not mounted. {} discarded.",
                match what {
                    "Block I/O weight" => "Weight",
                    "Block I/O weight_device" => "Weight-device",
                    "BPS Block I/O read limit" => "Block I/O BPS read limit",
                    "BPS Block I/O write limit" => "Block I/O BPS write limit",
                    "IOPS Block read limit" => "Block I/O IOPS read limit",
                    _ => "Block I/O IOPS write limit",
                }
            ));
        }
        given && ok
    };
    let weight = warn_unless(support.weight, h.blkio_weight > 0, "Block I/O weight");
    let weight_devices = warn_unless(
        support.weight_device,
        !h.blkio_weight_device.is_empty(),
        "Block I/O weight_device",
    );
    let read_bps = warn_unless(
        support.read_bps,
        !h.blkio_device_read_bps.is_empty(),
        "BPS Block I/O read limit",
    );
    let write_bps = warn_unless(
        support.write_bps,
        !h.blkio_device_write_bps.is_empty(),
        "BPS Block I/O write limit",
    );
    let read_iops = warn_unless(
        support.read_iops,
        !h.blkio_device_read_iops.is_empty(),
        "IOPS Block read limit",
    );
    let write_iops = warn_unless(
        support.write_iops,
        !h.blkio_device_write_iops.is_empty(),
        "IOPS Block write limit",
    );
    // Checked after the discarding, as Docker's daemon does.
    if weight {
        check_weight(h.blkio_weight)?;
    }
    for d in &h.blkio_weight_device {
        if d.weight != 0 && !(10..=1000).contains(&d.weight) {
            return Err(Error::Invalid(format!(
                "invalid weight for device {}: {} (expected 10 to 1000)",
                d.path, d.weight
            )));
        }
    }
    let throttle = |given: bool, list: &[ThrottleDevice]| -> Result<Vec<DeviceValue>> {
        if !given {
            return Ok(Vec::new());
        }
        list.iter()
            .map(|d| {
                let (major, minor) = device_numbers(&d.path)?;
                Ok(DeviceValue {
                    major,
                    minor,
                    value: d.rate,
                })
            })
            .collect()
    };
    let io = BlockIo {
        weight: Some(h.blkio_weight).filter(|_| weight),
        weight_devices: if weight_devices {
            h.blkio_weight_device
                .iter()
                .map(|d| {
                    let (major, minor) = device_numbers(&d.path)?;
                    Ok(DeviceValue {
                        major,
                        minor,
                        value: u64::from(d.weight),
                    })
                })
                .collect::<Result<_>>()?
        } else {
            Vec::new()
        },
        read_bps: throttle(read_bps, &h.blkio_device_read_bps)?,
        write_bps: throttle(write_bps, &h.blkio_device_write_bps)?,
        read_iops: throttle(read_iops, &h.blkio_device_read_iops)?,
        write_iops: throttle(write_iops, &h.blkio_device_write_iops)?,
    };
    Ok((io, warnings))
}

/// `h` as inspect shows it: Docker's daemon zeroes the limits it discarded.
pub fn without_discarded(mut h: HostConfig, io: &BlockIo) -> HostConfig {
    if io.weight.is_none() {
        h.blkio_weight = 0;
    }
    for (kept, list) in [
        (&io.read_bps, &mut h.blkio_device_read_bps),
        (&io.write_bps, &mut h.blkio_device_write_bps),
        (&io.read_iops, &mut h.blkio_device_read_iops),
        (&io.write_iops, &mut h.blkio_device_write_iops),
    ] {
        if kept.is_empty() {
            list.clear();
        }
    }
    if io.weight_devices.is_empty() {
        h.blkio_weight_device.clear();
    }
    h
}

/// Docker's range for `BlkioWeight` (0: not set).
pub fn check_weight(w: u16) -> Result<()> {
    if w > 0 && !(10..=1000).contains(&w) {
        return Err(Error::Invalid(
            "Range of blkio weight is from 10 to 1000".into(),
        ));
    }
    Ok(())
}

/// The major and minor number of the block device at `path`.
fn device_numbers(path: &str) -> Result<(u64, u64)> {
    let meta = std::fs::metadata(Path::new(path))
        .map_err(|e| Error::Invalid(format!("stat {path}: {e}")))?;
    if !meta.file_type().is_block_device() {
        return Err(Error::Invalid(format!(
            "{path} is not a block device (block I/O limits name a device such as /dev/sda)"
        )));
    }
    let rdev = meta.rdev();
    Ok((u64::from(libc::major(rdev)), u64::from(libc::minor(rdev))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_device() -> Option<String> {
        std::fs::read_dir("/sys/block")
            .ok()?
            .filter_map(|e| e.ok())
            .map(|e| format!("/dev/{}", e.file_name().to_string_lossy()))
            .find(|p| std::fs::metadata(p).is_ok_and(|m| m.file_type().is_block_device()))
    }

    fn all() -> BlockIoSupport {
        BlockIoSupport {
            weight: true,
            weight_device: true,
            read_bps: true,
            write_bps: true,
            read_iops: true,
            write_iops: true,
        }
    }

    #[test]
    fn what_the_kernel_cannot_do_is_discarded_with_dockers_warning() {
        let h = HostConfig {
            blkio_weight: 300,
            blkio_device_read_bps: vec![ThrottleDevice {
                path: "/dev/does-not-matter".into(),
                rate: 1,
            }],
            ..HostConfig::default()
        };
        assert!(asked(&h) && !asked(&HostConfig::default()));
        let (io, warnings) = resolve(&h, BlockIoSupport::default()).unwrap();
        assert!(io.is_empty());
        assert_eq!(
            warnings,
            [
                "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.",
                "Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. Block I/O BPS read limit discarded.",
            ]
        );
    }

    #[test]
    fn weights_are_checked_and_devices_resolved() {
        let h = |w: u16| HostConfig {
            blkio_weight: w,
            ..HostConfig::default()
        };
        assert!(resolve(&h(5), all()).is_err());
        assert!(resolve(&h(1001), all()).is_err());
        let (io, w) = resolve(&h(500), all()).unwrap();
        assert_eq!((io.weight, w.len()), (Some(500), 0));
        let not_block = HostConfig {
            blkio_device_write_iops: vec![ThrottleDevice {
                path: "/dev/null".into(),
                rate: 10,
            }],
            ..HostConfig::default()
        };
        let e = resolve(&not_block, all()).unwrap_err().to_string();
        assert!(e.contains("/dev/null is not a block device"), "{e}");
        let missing = HostConfig {
            blkio_weight_device: vec![WeightDevice {
                path: "/dev/nope".into(),
                weight: 100,
            }],
            ..HostConfig::default()
        };
        let e = resolve(&missing, all()).unwrap_err().to_string();
        assert!(e.contains("stat /dev/nope"), "{e}");
        let Some(dev) = block_device() else { return };
        let given = HostConfig {
            blkio_device_read_bps: vec![ThrottleDevice {
                path: dev.clone(),
                rate: 1 << 20,
            }],
            ..HostConfig::default()
        };
        let (io, _) = resolve(&given, all()).unwrap();
        assert_eq!(io.read_bps[0].value, 1 << 20);
        let oci = io.to_oci();
        assert_eq!(oci["throttleReadBpsDevice"][0]["rate"], 1 << 20);
    }
}
