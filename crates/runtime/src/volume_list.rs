//! `volume ls` / `GET /volumes` with Docker's filters (name, label, dangling, driver), and
//! `volume create` / `POST /volumes/create`.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::lifecycle::Runtime;
use crate::volumes::VolumeInfo;

/// Does a volume's label set pass `label=KEY` or `label=KEY=VALUE`?
pub(crate) fn labels_match(labels: &Option<BTreeMap<String, String>>, want: &str) -> bool {
    let l = labels.as_ref();
    match want.split_once('=') {
        Some((k, v)) => l.and_then(|l| l.get(k)).is_some_and(|x| x == v),
        None => l.is_some_and(|l| l.contains_key(want)),
    }
}

/// A `true`/`false` filter value as Docker reads it.
pub(crate) fn filter_bool(key: &str, v: &str) -> Result<bool> {
    match v {
        "1" | "true" => Ok(true),
        "0" | "false" => Ok(false),
        _ => Err(Error::Invalid(format!(
            "invalid filter '{key}={v}': expected a boolean value"
        ))),
    }
}

impl Runtime {
    /// The volumes that pass every `key=value` filter, in name order.
    pub fn list_volumes(&self, filters: &[String]) -> Result<Vec<VolumeInfo>> {
        let mut list = self.volumes()?.list()?;
        let used = self.volumes_in_use();
        for f in filters {
            let Some((k, v)) = f.split_once('=') else {
                return Err(Error::Invalid(
                    "bad format of filter (expected name=value)".into(),
                ));
            };
            match k {
                "name" => list.retain(|x| x.name.contains(v)),
                "label" => list.retain(|x| labels_match(&x.shown_labels(), v)),
                "label!" => list.retain(|x| !labels_match(&x.shown_labels(), v)),
                "driver" => list.retain(|_| v == "local"),
                "dangling" => {
                    let dangling = filter_bool(k, v)?;
                    list.retain(|x| used.contains(&x.name) != dangling)
                }
                _ => return Err(Error::Invalid(format!("invalid filter '{k}'"))),
            }
        }
        Ok(list)
    }

    /// The volumes as `GET /volumes` lists them (Docker's objects).
    pub fn list_volumes_json(&self, filters: &[String]) -> Result<Vec<Value>> {
        let vols = self.volumes()?;
        Ok(self
            .list_volumes(filters)?
            .iter()
            .map(|v| vols.volume_json(v))
            .collect())
    }

    /// Creates a named volume (or, without a name, one named by berth) of the local driver;
    /// returns its object. Driver options are refused by name: the local driver's
    /// `type`/`device`/`o` mounts are not supported.
    pub fn create_volume(
        &self,
        name: Option<&str>,
        driver: &str,
        driver_opts: &BTreeMap<String, String>,
        labels: Option<BTreeMap<String, String>>,
    ) -> Result<Value> {
        if !matches!(driver, "" | "local") {
            return Err(Error::Invalid(format!(
                "create {}: volume driver {driver:?} is not available: berth has the local driver only",
                name.unwrap_or("")
            )));
        }
        if let Some(k) = driver_opts.keys().next() {
            return Err(Error::Invalid(format!(
                "create {}: driver option {k:?}: berth's local driver takes no options",
                name.unwrap_or("")
            )));
        }
        let name = match name {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => crate::record::new_id(),
        };
        let vols = self.volumes()?;
        vols.create(&name, false, labels)?;
        vols.inspect(&name)?
            .ok_or_else(|| Error::NoSuchVolume(name.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_filters_take_a_key_or_a_pair() {
        let l = Some(BTreeMap::from([("a".to_string(), "1".to_string())]));
        assert!(labels_match(&l, "a"));
        assert!(labels_match(&l, "a=1"));
        assert!(!labels_match(&l, "a=2"));
        assert!(!labels_match(&l, "b"));
        assert!(!labels_match(&None, "a"));
        assert!(filter_bool("dangling", "1").unwrap());
        assert!(filter_bool("dangling", "yes").is_err());
    }

    #[test]
    fn volumes_are_listed_by_filter_and_created_once() {
        let dir = tempfile::tempdir().unwrap();
        let rt = Runtime::open(dir.path()).unwrap();
        let labels = BTreeMap::from([("com.example".to_string(), "x".to_string())]);
        let v = rt
            .create_volume(Some("data"), "local", &BTreeMap::new(), Some(labels))
            .unwrap();
        assert_eq!(v["Labels"]["com.example"], "x");
        // Again: the first one stays.
        rt.create_volume(Some("data"), "", &BTreeMap::new(), None)
            .unwrap();
        rt.volumes().unwrap().ensure("anon1", true).unwrap();
        let names = |f: &[&str]| -> Vec<String> {
            let f: Vec<String> = f.iter().map(|s| s.to_string()).collect();
            rt.list_volumes(&f)
                .unwrap()
                .into_iter()
                .map(|v| v.name)
                .collect()
        };
        assert_eq!(names(&[]), ["anon1", "data"]);
        assert_eq!(names(&["label=com.example=x"]), ["data"]);
        assert_eq!(names(&["label=com.docker.volume.anonymous"]), ["anon1"]);
        assert_eq!(names(&["name=da", "dangling=true"]), ["data"]);
        assert!(names(&["dangling=false"]).is_empty());
        assert!(rt.list_volumes(&["colour=red".into()]).is_err());
        let opts = BTreeMap::from([("type".to_string(), "nfs".to_string())]);
        let e = rt
            .create_volume(Some("n"), "local", &opts, None)
            .unwrap_err();
        assert!(e.to_string().contains("\"type\""), "{e}");
        assert!(rt
            .create_volume(Some("bad/name"), "", &BTreeMap::new(), None)
            .is_err());
    }
}
