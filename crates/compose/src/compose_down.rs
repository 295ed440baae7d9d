//! `compose down`: the project's containers stopped and removed (dependents first), then its
//! networks; with `-v` its named volumes too. External networks and volumes are left alone.

use crate::compose_up::{progress, Engine, Progress};
use crate::error::Result;
use crate::project_containers::project_containers;
use crate::project_load::Project;
use crate::service_container::LABEL_PROJECT;

#[derive(Clone, Debug, Default)]
pub struct DownOptions {
    /// `-v`: named volumes declared in the file, and anonymous ones of the containers.
    pub volumes: bool,
    /// `--remove-orphans`: containers of services no longer in the file (always removed
    /// here when their project is named, as the file no longer tells their order).
    pub remove_orphans: bool,
}

impl Engine<'_> {
    pub fn down(
        &self,
        p: &Project,
        o: &DownOptions,
        report: &mut dyn FnMut(Progress),
    ) -> Result<()> {
        let order = p.services_in_order(&[]).unwrap_or_default();
        let mut containers = project_containers(self.rt, &p.name, true)?;
        // Dependents first: the reverse of the start order; orphans and one-offs before all.
        containers.sort_by_key(|c| {
            std::cmp::Reverse(
                order
                    .iter()
                    .position(|s| *s == c.service)
                    .map_or(usize::MAX, |i| i),
            )
        });
        for c in &containers {
            let known = p.model.services.contains_key(&c.service);
            if !known && !o.remove_orphans && !c.oneoff {
                continue;
            }
            let rec = self.rt.find(&c.record.id)?;
            if rec.state.running() {
                report(progress("Container", &rec.name, "Stopping"));
                self.rt.stop(&rec.id, None)?;
                report(progress("Container", &rec.name, "Stopped"));
            }
            report(progress("Container", &rec.name, "Removing"));
            self.rt.remove(&rec.id, true, o.volumes)?;
            report(progress("Container", &rec.name, "Removed"));
        }
        for n in self
            .rt
            .networking()
            .list()
            .map_err(berth_runtime::Error::from)?
        {
            if n.labels.get(LABEL_PROJECT) == Some(&p.name) {
                report(progress("Network", &n.name, "Removing"));
                self.rt.remove_network(&n.id)?;
                report(progress("Network", &n.name, "Removed"));
            }
        }
        if o.volumes {
            let vols = self.rt.volumes()?;
            for (key, def) in &p.model.volumes {
                if def.as_ref().and_then(|d| d.external) == Some(true) {
                    continue;
                }
                let name = p.volume_name(key);
                if vols.exists(&name) {
                    report(progress("Volume", &name, "Removing"));
                    vols.remove(&name)?;
                    report(progress("Volume", &name, "Removed"));
                }
            }
        }
        Ok(())
    }
}
