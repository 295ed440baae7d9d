//! The filters every prune takes (`until`, `label`, `label!`, and for volumes `all`), parsed
//! once for `container prune`, `volume prune` and their API endpoints.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::volume_list::{filter_bool, labels_match};

#[derive(Debug, Default)]
pub struct PruneFilters {
    /// Only what was created before this (Unix nanoseconds).
    pub until: Option<i64>,
    /// `all=true` (volume prune: named volumes too).
    pub all: bool,
    /// (must match, `KEY` or `KEY=VALUE`): `label` and `label!`.
    labels: Vec<(bool, String)>,
}

impl PruneFilters {
    /// `key=value` filters; `allowed` are the keys this prune takes, named in the error.
    pub fn parse(filters: &[String], allowed: &[&str]) -> Result<PruneFilters> {
        let mut out = PruneFilters::default();
        for f in filters {
            let Some((k, v)) = f.split_once('=') else {
                return Err(Error::Invalid(
                    "bad format of filter (expected name=value)".into(),
                ));
            };
            if !allowed.contains(&k) {
                return Err(Error::Invalid(format!(
                    "invalid filter '{k}': supported filters are {}",
                    allowed.join(", ")
                )));
            }
            match k {
                "until" => out.until = Some(crate::container_logs::parse_time_nanos("until", v)?),
                "all" => out.all = filter_bool(k, v)?,
                "label" => out.labels.push((true, v.to_string())),
                _ => out.labels.push((false, v.to_string())),
            }
        }
        Ok(out)
    }

    /// Whether any `label` or `label!` filter was given.
    pub fn has_labels(&self) -> bool {
        !self.labels.is_empty()
    }

    /// Do these labels pass every `label` and `label!` filter?
    pub fn labels_pass(&self, labels: &Option<BTreeMap<String, String>>) -> bool {
        self.labels
            .iter()
            .all(|(want, l)| labels_match(labels, l) == *want)
    }
}
