//! `container prune` / `POST /containers/prune`: removes the stopped containers that pass the
//! filters (`until`, `label`, `label!`) and says what their writable layers held.

use crate::error::{Error, Result};
use crate::lifecycle::Runtime;
use crate::record::Status;

/// What a prune removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ContainerPruneReport {
    pub deleted: Vec<String>,
    pub space_reclaimed: u64,
}

fn label_matches(labels: &std::collections::BTreeMap<String, String>, want: &str) -> bool {
    match want.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(want),
    }
}

impl Runtime {
    pub fn prune_containers(&self, filters: &[String]) -> Result<ContainerPruneReport> {
        let mut until: Option<i64> = None;
        let mut labels: Vec<(bool, String)> = Vec::new();
        for f in filters {
            let Some((k, v)) = f.split_once('=') else {
                return Err(Error::Invalid(
                    "bad format of filter (expected name=value)".into(),
                ));
            };
            match k {
                "until" => until = Some(crate::container_logs::parse_time_nanos("until", v)?),
                "label" => labels.push((true, v.to_string())),
                "label!" => labels.push((false, v.to_string())),
                _ => {
                    return Err(Error::Invalid(format!(
                        "invalid filter '{k}': supported filters are until, label and label!"
                    )))
                }
            }
        }
        let mut report = ContainerPruneReport::default();
        for c in self.list()? {
            if matches!(c.state.status, Status::Running | Status::Restarting) {
                continue;
            }
            let created = chrono::DateTime::parse_from_rfc3339(&c.created)
                .ok()
                .and_then(|t| t.timestamp_nanos_opt())
                .unwrap_or(0);
            if until.is_some_and(|u| created >= u)
                || !labels
                    .iter()
                    .all(|(want, l)| label_matches(&c.config.labels, l) == *want)
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
