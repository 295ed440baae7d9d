//! `rename`: the new name claimed atomically (see `Containers::rename`).

use crate::error::{Error, Result};
use crate::lifecycle::{bridged, Runtime};
use crate::record::valid_name;

impl Runtime {
    /// `docker rename`.
    pub fn rename(&self, key: &str, new_name: &str) -> Result<()> {
        let new_name = new_name.strip_prefix('/').unwrap_or(new_name);
        if !valid_name(new_name) {
            return Err(Error::BadName(new_name.to_string()));
        }
        let found = self.containers.find(key)?;
        let (c, old_name) = self.containers.rename(&found.id, new_name)?;
        if bridged(&c.config.network) {
            self.network.rename(&c.id, new_name)?;
        }
        self.container_event("rename", &c, &[("oldName", &format!("/{old_name}"))]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::engine_fake::{actions, create, fake_runtime};
    use crate::Error;

    // Names that are not hex: a name like "a" also matches any ID that starts with it.
    #[test]
    fn rename_checks_the_name_and_says_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let (rt, _fake) = fake_runtime(dir.path());
        let a = create(&rt, "web", &["true"], |_| {});
        create(&rt, "cache", &["true"], |_| {});
        assert!(matches!(
            rt.rename("web", "cache"),
            Err(Error::NameInUse(_))
        ));
        assert!(matches!(rt.rename("web", "-bad"), Err(Error::BadName(_))));
        rt.rename("web", "/proxy").unwrap();
        assert_eq!(rt.find("proxy").unwrap().id, a.id);
        assert!(rt.find("web").is_err());
        assert_eq!(actions(&rt, &a.id), ["create", "rename"]);
    }
}
