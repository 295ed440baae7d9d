//! Container events for the journal (`berth events`, the API's `/events`), with the
//! attributes Docker gives them: the image, the name and the container's labels, plus what
//! the action adds (`exitCode` for die, `signal` for kill, `oldName` for rename, …).

use berth_events::{Event, Journal};

use crate::lifecycle::Runtime;
use crate::record::ContainerRecord;

impl Runtime {
    /// The journal under this root.
    pub fn journal(&self) -> Journal {
        Journal::new(self.root())
    }

    /// Records a container event. Best effort: a journal that cannot be written never fails
    /// the operation.
    pub(crate) fn container_event(
        &self,
        action: &str,
        c: &ContainerRecord,
        extra: &[(&str, &str)],
    ) {
        let mut attrs: Vec<(&str, &str)> = c
            .config
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        attrs.push(("image", &c.image));
        attrs.push(("name", &c.name));
        attrs.extend_from_slice(extra);
        let _ = self
            .journal()
            .record(&Event::now("container", action, &c.id, &attrs));
    }

    /// Docker's `volume mount` (as the container starts) or `volume unmount` (after it
    /// ends) of each volume the container mounts.
    pub(crate) fn volume_mount_events(&self, action: &str, c: &ContainerRecord) {
        for m in c.config.mounts.iter().filter(|m| m.kind == "volume") {
            let rw = (!m.readonly).to_string();
            let mut attrs = vec![("container", c.id.as_str()), ("driver", "local")];
            if action == "mount" {
                attrs.extend([
                    ("destination", m.target.as_str()),
                    ("propagation", ""),
                    ("read/write", rw.as_str()),
                ]);
            }
            let _ = self
                .journal()
                .record(&Event::now("volume", action, &m.source, &attrs));
        }
    }
}
