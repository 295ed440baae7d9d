//! `compose down`: the project's containers stopped and removed (dependents first), then its
//! networks; with `-v` its named volumes too; with `--rmi` its images. External networks and
//! volumes are left alone.

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
    /// `--rmi`: the services' images to remove.
    pub rmi: Option<RemoveImages>,
}

/// `--rmi local|all`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemoveImages {
    /// Only the images Compose named itself (services that build without an `image:`).
    Local,
    /// Every image a service uses.
    All,
}

impl std::str::FromStr for RemoveImages {
    type Err = crate::error::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "local" => Ok(RemoveImages::Local),
            "all" => Ok(RemoveImages::All),
            _ => Err(crate::error::Error::Invalid(format!(
                "invalid --rmi option {s:?}: expected \"local\" or \"all\""
            ))),
        }
    }
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
        if let Some(which) = o.rmi {
            self.remove_images(p, which, report)?;
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

    /// The services' images, each once; one still used by another container is reported and
    /// kept, as Compose does, and one already gone is skipped.
    fn remove_images(
        &self,
        p: &Project,
        which: RemoveImages,
        report: &mut dyn FnMut(Progress),
    ) -> Result<()> {
        let store = berth_image::Store::open(self.rt.root()).map_err(berth_runtime::Error::from)?;
        let mut done = std::collections::BTreeSet::new();
        for (name, svc) in &p.model.services {
            if which == RemoveImages::Local && svc.image.is_some() {
                continue;
            }
            let image = p.image_of(name, svc);
            if !done.insert(image.clone()) || store.lookup(&image).is_err() {
                continue;
            }
            report(progress("Image", &image, "Removing"));
            match self.rt.remove_image(&image, false) {
                Ok(_) => report(progress("Image", &image, "Removed")),
                Err(e) => report(progress("Image", &image, &format!("Error {e}"))),
            }
        }
        Ok(())
    }
}
