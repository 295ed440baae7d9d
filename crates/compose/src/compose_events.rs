//! `compose events`: the project's container events as they happen, each with its service,
//! and the attributes without Compose's own `com.docker.compose.*` labels, as Compose gives
//! them. Front ends print them as Compose's text line or its JSON object.

use std::collections::BTreeMap;

use berth_events::{EventFilters, EventQuery, Journal};
use serde_json::{json, Value};

use crate::compose_up::Engine;
use crate::error::{Error, Result};
use crate::project_load::Project;
use crate::service_container::{LABEL_PROJECT, LABEL_SERVICE};

/// One container event of the project.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComposeEvent {
    /// Unix nanoseconds.
    pub time_nano: i64,
    pub service: String,
    /// The container's ID.
    pub id: String,
    pub action: String,
    pub attributes: BTreeMap<String, String>,
}

impl ComposeEvent {
    /// Compose's `--json` object: time, type, service, id, action, attributes.
    pub fn to_json(&self) -> Value {
        let time = chrono::DateTime::from_timestamp_nanos(self.time_nano)
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        json!({
            "time": time,
            "type": "container",
            "service": self.service,
            "id": self.id,
            "action": self.action,
            "attributes": self.attributes,
        })
    }
}

impl Engine<'_> {
    /// The project's container events from now on, of `services` (all if empty); the
    /// iterator blocks for the next one.
    pub fn events(
        &self,
        p: &Project,
        services: &[String],
    ) -> Result<impl Iterator<Item = ComposeEvent>> {
        let filters = EventFilters::parse_args(&[
            "type=container".to_string(),
            format!("label={LABEL_PROJECT}={}", p.name),
        ])
        .map_err(Error::Invalid)?;
        let query = EventQuery {
            since: None,
            until: None,
            filters,
        };
        let services = services.to_vec();
        Ok(Journal::new(self.rt.root())
            .query(query)
            .filter_map(move |e| {
                let service = e.actor.attributes.get(LABEL_SERVICE).cloned()?;
                if !services.is_empty() && !services.contains(&service) {
                    return None;
                }
                let attributes = e
                    .actor
                    .attributes
                    .into_iter()
                    .filter(|(k, _)| !k.starts_with("com.docker.compose."))
                    .collect();
                Some(ComposeEvent {
                    time_nano: e.time_nano,
                    service,
                    id: e.actor.id,
                    action: e.action,
                    attributes,
                })
            }))
    }
}
