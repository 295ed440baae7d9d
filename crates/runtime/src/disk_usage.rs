//! `docker system df` and the Engine API's `GET /system/df`: what images, containers, volumes
//! and the build cache hold on disk, and what of it could be reclaimed. Front ends render the
//! report (the CLI's table, `-v` sections; the API's JSON).

use std::collections::BTreeSet;
use std::path::PathBuf;

use berth_image::disk_usage::BuildCacheRecord;

use crate::error::Result;
use crate::lifecycle::Runtime;
use crate::record::ContainerRecord;

/// One image's share.
#[derive(Debug, Clone)]
pub struct ImageUsage {
    pub image: berth_image::Image,
    pub size: u64,
    pub shared_size: u64,
    /// Containers made from it.
    pub containers: usize,
}

#[derive(Debug, Clone)]
pub struct ContainerUsage {
    pub container: ContainerRecord,
    /// Bytes of its writable layer.
    pub size_rw: u64,
}

#[derive(Debug, Clone)]
pub struct VolumeUsage {
    pub name: String,
    pub size: u64,
    /// Containers that mount it.
    pub ref_count: usize,
}

/// One line of the summary: how many, how many in use, bytes, bytes that could go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageSummary {
    pub total: usize,
    pub active: usize,
    pub size: u64,
    pub reclaimable: u64,
}

#[derive(Debug, Clone)]
pub struct DiskUsage {
    /// Every layer counted once.
    pub layers_size: u64,
    /// Layer bytes no container's image holds.
    pub images_reclaimable: u64,
    pub images: Vec<ImageUsage>,
    pub containers: Vec<ContainerUsage>,
    pub volumes: Vec<VolumeUsage>,
    pub build_cache: Vec<BuildCacheRecord>,
    /// What `builder prune` would free, measured on disk.
    pub build_cache_size: u64,
}

impl DiskUsage {
    pub fn images_summary(&self) -> UsageSummary {
        UsageSummary {
            total: self.images.len(),
            active: self.images.iter().filter(|i| i.containers > 0).count(),
            size: self.layers_size,
            reclaimable: self.images_reclaimable,
        }
    }

    /// A stopped container's changes are reclaimable.
    pub fn containers_summary(&self) -> UsageSummary {
        let running = |c: &&ContainerUsage| c.container.state.running();
        UsageSummary {
            total: self.containers.len(),
            active: self.containers.iter().filter(running).count(),
            size: self.containers.iter().map(|c| c.size_rw).sum(),
            reclaimable: self
                .containers
                .iter()
                .filter(|c| !running(c))
                .map(|c| c.size_rw)
                .sum(),
        }
    }

    /// A volume no container mounts is reclaimable.
    pub fn volumes_summary(&self) -> UsageSummary {
        UsageSummary {
            total: self.volumes.len(),
            active: self.volumes.iter().filter(|v| v.ref_count > 0).count(),
            size: self.volumes.iter().map(|v| v.size).sum(),
            reclaimable: self
                .volumes
                .iter()
                .filter(|v| v.ref_count == 0)
                .map(|v| v.size)
                .sum(),
        }
    }

    pub fn build_cache_summary(&self) -> UsageSummary {
        UsageSummary {
            total: self.build_cache.len(),
            active: 0,
            size: self.build_cache_size,
            reclaimable: self.build_cache_size,
        }
    }
}

impl Runtime {
    pub fn disk_usage(&self) -> Result<DiskUsage> {
        let store = &self.store;
        let images = store.list_images()?;
        let containers = self.list()?;
        let per_image = store.image_usage()?;
        let users_of = |id: &str| containers.iter().filter(|c| c.image_id == id).count();
        let layer_size = |c: &berth_image::Digest| store.layer_info(c).map(|i| i.size).unwrap_or(0);
        let mut all_layers = BTreeSet::new();
        let mut used_layers = BTreeSet::new();
        for i in &images {
            all_layers.extend(i.chain_ids());
            if users_of(&i.id().to_string()) > 0 {
                used_layers.extend(i.chain_ids());
            }
        }
        let image_usage = images
            .iter()
            .map(|i| {
                let u = per_image.get(i.id());
                ImageUsage {
                    size: u.map_or(0, |u| u.size),
                    shared_size: u.map_or(0, |u| u.shared_size),
                    containers: users_of(&i.id().to_string()),
                    image: i.clone(),
                }
            })
            .collect();
        let container_usage = containers
            .iter()
            .map(|c| ContainerUsage {
                size_rw: crate::volumes::dir_size(
                    &crate::rootfs::RootfsPaths::of(&self.containers().dir(&c.id)).upper,
                ),
                container: c.clone(),
            })
            .collect();
        let volumes = self.volumes()?;
        let used = self.volumes_in_use();
        let volume_usage = volumes
            .list()?
            .into_iter()
            .map(|v| VolumeUsage {
                size: volumes.size(&v.name),
                ref_count: used.iter().filter(|u| **u == v.name).count(),
                name: v.name,
            })
            .collect();
        // Layers containers still use are theirs, not the cache's, even without their image.
        let in_use: BTreeSet<PathBuf> = containers
            .iter()
            .flat_map(|c| c.lower_dirs.iter().cloned())
            .collect();
        let cache = store.build_cache_usage(&|l| in_use.contains(&store.layer_dir(l)))?;
        Ok(DiskUsage {
            layers_size: all_layers.iter().map(layer_size).sum(),
            images_reclaimable: all_layers.difference(&used_layers).map(layer_size).sum(),
            images: image_usage,
            containers: container_usage,
            volumes: volume_usage,
            build_cache: cache.records,
            build_cache_size: cache.size,
        })
    }
}

impl Runtime {
    /// The report as `GET /system/df` answers it: Docker's `LayersSize`, `Images` (image
    /// summaries with `SharedSize` and `Containers`), `Containers` (summaries with `SizeRw`),
    /// `Volumes` (with `UsageData`) and `BuildCache`.
    pub fn disk_usage_json(&self, du: &DiskUsage) -> Result<serde_json::Value> {
        use serde_json::{json, Value};
        let summaries = self
            .store
            .image_summaries(&berth_image::image_list::ImageFilters::default())?;
        let images: Vec<Value> = du
            .images
            .iter()
            .map(|u| {
                let id = u.image.id().to_string();
                let mut s = summaries
                    .iter()
                    .find(|s| s["Id"] == id.as_str())
                    .cloned()
                    .unwrap_or_else(|| json!({"Id": id}));
                s["Size"] = json!(u.size);
                s["SharedSize"] = json!(u.shared_size);
                s["Containers"] = json!(u.containers);
                s
            })
            .collect();
        let link_names = self.link_names();
        let containers: Vec<Value> = du
            .containers
            .iter()
            .map(|c| {
                let links = link_names.get(&c.container.id).map(Vec::as_slice);
                let mut s = self.container_summary(&c.container, links.unwrap_or_default());
                s["SizeRw"] = json!(c.size_rw);
                s
            })
            .collect();
        let vols = self.volumes()?;
        let volumes: Vec<Value> = du
            .volumes
            .iter()
            .filter_map(|u| {
                let mut v = vols.inspect(&u.name).ok().flatten()?;
                v["UsageData"] = json!({"Size": u.size, "RefCount": u.ref_count});
                Some(v)
            })
            .collect();
        let cache: Vec<Value> = du
            .build_cache
            .iter()
            .map(|r| {
                json!({
                    "ID": r.id,
                    "Parents": null,
                    "Type": r.kind,
                    "Description": "",
                    "InUse": false,
                    "Shared": r.shared,
                    "Size": r.size,
                    "CreatedAt": r.created,
                    "LastUsedAt": r.last_used.as_ref().or(r.created.as_ref()),
                    "UsageCount": 0,
                })
            })
            .collect();
        Ok(json!({
            "LayersSize": du.layers_size,
            "Images": images,
            "Containers": containers,
            "Volumes": volumes,
            "BuildCache": cache,
        }))
    }
}
