//! `image prune` / `POST /images/prune` with Docker's filters: `dangling` (false: every
//! unused image, as `-a`), `until`, `label` and `label!`. Which images go is decided here,
//! where the containers that use images are known; the image store removes them.

use berth_image::{Digest, RemoveEvent};

use crate::error::Result;
use crate::lifecycle::Runtime;
use crate::prune_filters::PruneFilters;
use crate::volume_list::filter_bool;

impl Runtime {
    /// Removes the images no container uses that pass `filters` (`key=value`): dangling
    /// ones, or every one with `all`. Returns what was untagged and deleted, and the bytes
    /// reclaimed.
    pub fn prune_images(&self, all: bool, filters: &[String]) -> Result<(Vec<RemoveEvent>, u64)> {
        let mut all = all;
        let mut rest = Vec::new();
        for f in filters {
            match f.split_once('=') {
                Some(("dangling", v)) => all = !filter_bool("dangling", v)?,
                _ => rest.push(f.clone()),
            }
        }
        let wanted = PruneFilters::parse(&rest, &["dangling", "until", "label", "label!"])?;
        let used = self.images_in_use();
        let keep = |config: &Digest| {
            if used.contains(&config.to_string()) {
                return true;
            }
            if wanted.until.is_none() && !wanted.has_labels() {
                return false;
            }
            // An image whose config cannot be read is left alone.
            let Ok(cfg) = self.store.read_config(config) else {
                return true;
            };
            let created = cfg
                .created
                .as_deref()
                .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
                .and_then(|t| t.timestamp_nanos_opt());
            if let Some(until) = wanted.until {
                if created.is_none_or(|c| c >= until) {
                    return true;
                }
            }
            let labels = cfg.config.as_ref().and_then(|c| c.labels.clone());
            !wanted.labels_pass(&labels)
        };
        Ok(self.store.prune_images(all, &keep)?)
    }
}
