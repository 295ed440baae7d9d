//! `volume rm` / `DELETE /volumes/{name}` and `volume prune` / `POST /volumes/prune`: volumes
//! that containers use are kept.

use crate::error::{Error, Result};
use crate::lifecycle::Runtime;

/// What a prune removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct VolumePruneReport {
    pub deleted: Vec<String>,
    pub space_reclaimed: u64,
}

impl Runtime {
    /// The ids of the containers (any state) that mount the volume.
    pub fn volume_users(&self, name: &str) -> Vec<String> {
        self.containers()
            .list()
            .map(|l| {
                l.into_iter()
                    .filter(|c| {
                        c.config
                            .mounts
                            .iter()
                            .any(|m| m.kind == "volume" && m.source == name)
                    })
                    .map(|c| c.id)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Removes a volume no container uses. With `force`, one that does not exist is no error
    /// (as Docker's `-f`); one in use is refused all the same.
    pub fn remove_volume(&self, name: &str, force: bool) -> Result<()> {
        let vols = self.volumes()?;
        if !vols.exists(name) {
            return if force {
                Ok(())
            } else {
                Err(Error::NoSuchVolume(name.to_string()))
            };
        }
        let users = self.volume_users(name);
        if !users.is_empty() {
            return Err(Error::Conflict(format!(
                "remove {name}: volume is in use - [{}]",
                users.join(", ")
            )));
        }
        vols.remove(name)
    }

    /// Removes the volumes no container uses: the anonymous ones, or all with the filter
    /// `all=true`; `label`/`label!` filters narrow it further.
    pub fn prune_volumes(&self, filters: &[String]) -> Result<VolumePruneReport> {
        let f = crate::prune_filters::PruneFilters::parse(filters, &["label", "label!", "all"])?;
        let vols = self.volumes()?;
        let used = self.volumes_in_use();
        let mut report = VolumePruneReport::default();
        for v in vols.list()? {
            let shown = v.shown_labels();
            if used.contains(&v.name) || !(f.all || v.anonymous) || !f.labels_pass(&shown) {
                continue;
            }
            let size = vols.size(&v.name);
            vols.remove(&v.name)?;
            report.space_reclaimed += size;
            report.deleted.push(v.name);
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_error_kind::{ErrorKind, HasKind};

    #[test]
    fn prune_takes_anonymous_volumes_unless_all() {
        let dir = tempfile::tempdir().unwrap();
        let rt = Runtime::open(dir.path()).unwrap();
        let vols = rt.volumes().unwrap();
        vols.ensure("named", false).unwrap();
        vols.ensure("anon", true).unwrap();
        std::fs::write(vols.data_dir("anon").join("f"), b"12345").unwrap();
        let r = rt.prune_volumes(&[]).unwrap();
        assert_eq!(
            (r.deleted, r.space_reclaimed),
            (vec!["anon".to_string()], 5)
        );
        assert!(rt
            .prune_volumes(&["label=x".into()])
            .unwrap()
            .deleted
            .is_empty());
        assert!(rt.prune_volumes(&["dangling=true".into()]).is_err());
        let r = rt.prune_volumes(&["all=true".into()]).unwrap();
        assert_eq!(r.deleted, ["named"]);
        assert_eq!(
            rt.remove_volume("named", false).unwrap_err().kind(),
            ErrorKind::NotFound
        );
        rt.remove_volume("named", true).unwrap();
    }
}
