//! `container prune` / `POST /containers/prune`: removes the stopped containers that pass the
//! filters (`until`, `label`, `label!`) and says what their writable layers held.

use crate::error::Result;
use crate::lifecycle::Runtime;
use crate::record::Status;

/// What a prune removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ContainerPruneReport {
    pub deleted: Vec<String>,
    pub space_reclaimed: u64,
}

impl Runtime {
    pub fn prune_containers(&self, filters: &[String]) -> Result<ContainerPruneReport> {
        let f = crate::prune_filters::PruneFilters::parse(filters, &["until", "label", "label!"])?;
        let mut report = ContainerPruneReport::default();
        for c in self.list()? {
            if matches!(c.state.status, Status::Running | Status::Restarting) {
                continue;
            }
            let created = chrono::DateTime::parse_from_rfc3339(&c.created)
                .ok()
                .and_then(|t| t.timestamp_nanos_opt())
                .unwrap_or(0);
            if f.until.is_some_and(|u| created >= u)
                || !f.labels_pass(&Some(c.config.labels.clone()))
            {
                continue;
            }
            let upper = crate::rootfs::RootfsPaths::of(&self.containers().dir(&c.id)).upper;
            let size = crate::volumes::dir_size(&upper);
            self.remove(&c.id, false, false)?;
            report.space_reclaimed += size;
            report.deleted.push(c.id);
        }
        Ok(report)
    }
}
