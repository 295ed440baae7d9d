//! `docker images` and the Engine API's `GET /images/json`: which images a query selects, with
//! Docker's filters (dangling, label, before, since, until, reference globs). Front ends render the
//! images (one row per tag) and decide the columns.

use crate::error::{Error, Result};
use crate::images::Image;
use crate::reference::Reference;
use crate::store::Store;

/// The filters of an image list. Values of `reference` are alternatives; everything else must
/// all hold.
#[derive(Debug, Clone, Default)]
pub struct ImageFilters {
    pub dangling: Option<bool>,
    /// Globs over `repository` or `repository:tag` (`*` and `?` stop at `/`).
    pub references: Vec<String>,
    /// `key` (present) or `key=value`.
    pub labels: Vec<(String, Option<String>)>,
    /// Created before / after these images (their creation times).
    pub before: Option<String>,
    pub since: Option<String>,
    /// Created before this time (Unix nanoseconds; `until=` takes Docker's times and Go
    /// durations back from now).
    pub until: Option<i64>,
}

impl ImageFilters {
    /// From `key=value` arguments; `before`/`since` name images of this store.
    pub fn parse_args(store: &Store, args: &[String]) -> Result<ImageFilters> {
        let mut f = ImageFilters::default();
        for a in args {
            let (k, v) = a.split_once('=').ok_or_else(|| {
                Error::InvalidFilter(format!("bad format of filter (expected name=value): {a}"))
            })?;
            match k {
                "dangling" => {
                    f.dangling = Some(match v {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => {
                            return Err(Error::InvalidFilter(format!(
                                "invalid filter 'dangling={v}': expected true or false"
                            )))
                        }
                    })
                }
                "reference" => f.references.push(v.to_string()),
                "label" => f.labels.push(match v.split_once('=') {
                    Some((a, b)) => (a.to_string(), Some(b.to_string())),
                    None => (v.to_string(), None),
                }),
                "before" => f.before = Some(store.lookup(v)?.config.created.unwrap_or_default()),
                "since" => f.since = Some(store.lookup(v)?.config.created.unwrap_or_default()),
                "until" => {
                    f.until = Some(
                        berth_events::time_values::parse_time_nanos("until", v)
                            .map_err(Error::InvalidFilter)?,
                    )
                }
                _ => {
                    return Err(Error::InvalidFilter(format!(
                        "invalid filter '{k}': supported filters are dangling, reference, label, before, since, until"
                    )))
                }
            }
        }
        Ok(f)
    }

    /// Whether the image itself passes (everything but `reference`).
    pub fn matches_image(&self, img: &Image) -> bool {
        let created = img.config.created.as_deref().unwrap_or("");
        if self.before.as_ref().is_some_and(|b| created >= b.as_str())
            || self.since.as_ref().is_some_and(|s| created <= s.as_str())
        {
            return false;
        }
        if let Some(until) = self.until {
            let at = chrono::DateTime::parse_from_rfc3339(created)
                .ok()
                .and_then(|t| t.timestamp_nanos_opt());
            if at.is_none_or(|t| t >= until) {
                return false;
            }
        }
        let labels = img
            .config
            .config
            .as_ref()
            .and_then(|c| c.labels.clone())
            .unwrap_or_default();
        let labelled = self.labels.iter().all(|(k, v)| match v {
            Some(v) => labels.get(k) == Some(v),
            None => labels.contains_key(k),
        });
        labelled && self.dangling.is_none_or(|d| d == img.tags.is_empty())
    }

    /// Whether a row of the image (its familiar repository and tag) passes `reference`.
    pub fn matches_name(&self, repository: &str, tag: &str) -> bool {
        let with_tag = format!("{repository}:{tag}");
        self.references.is_empty()
            || self
                .references
                .iter()
                .any(|p| glob_match(p, repository) || glob_match(p, &with_tag))
    }
}

impl Store {
    /// The images `filters` selects (see `ImageFilters::matches_image`).
    pub fn list_images_filtered(&self, filters: &ImageFilters) -> Result<Vec<Image>> {
        Ok(self
            .list_images()?
            .into_iter()
            .filter(|i| filters.matches_image(i))
            .collect())
    }
}

impl Store {
    /// The images `filters` selects as `GET /images/json` lists them (Docker's
    /// `ImageSummary`); with a `reference` filter, only the tags it matches are listed.
    pub fn image_summaries(&self, filters: &ImageFilters) -> Result<Vec<serde_json::Value>> {
        let mut out = Vec::new();
        for img in self.list_images_filtered(filters)? {
            let tags: Vec<String> = image_rows(&img)
                .into_iter()
                .filter(|(full, _, _)| !full.is_empty())
                .filter(|(_, repo, tag)| filters.matches_name(repo, tag))
                .map(|(_, repo, tag)| format!("{repo}:{tag}"))
                .collect();
            if tags.is_empty() && !filters.references.is_empty() {
                continue;
            }
            let created = img
                .config
                .created
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.timestamp())
                .unwrap_or(0);
            let size = self.image_size(&img);
            let labels = img.config.config.as_ref().and_then(|c| c.labels.clone());
            out.push(serde_json::json!({
                "Id": img.id().to_string(),
                "ParentId": "",
                "RepoTags": tags,
                "RepoDigests": img.record.repo_digests,
                "Created": created,
                "Size": size,
                "SharedSize": -1,
                "VirtualSize": size,
                "Labels": labels,
                "Containers": -1,
            }));
        }
        Ok(out)
    }
}

/// The rows of an image as `docker images` lists them: (full name, familiar repository, tag),
/// or one `<none>` row for an untagged image.
pub fn image_rows(img: &Image) -> Vec<(String, String, String)> {
    let mut names: Vec<(String, String, String)> = img
        .tags
        .iter()
        .filter_map(|t| Reference::parse(t).ok())
        .map(|r| {
            (
                r.name(),
                r.familiar_name(),
                r.tag.clone().unwrap_or_default(),
            )
        })
        .collect();
    if names.is_empty() {
        names.push((String::new(), "<none>".into(), "<none>".into()));
    }
    names
}

/// Docker's reference globs: `*` and `?` never cross a `/`.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn m(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len())
                .take_while(|&i| i == 0 || n[i - 1] != '/')
                .any(|i| m(&p[1..], &n[i..])),
            Some('?') => !n.is_empty() && n[0] != '/' && m(&p[1..], &n[1..]),
            Some(c) => !n.is_empty() && n[0] == *c && m(&p[1..], &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    m(&p, &n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_globs() {
        assert!(glob_match("busy*", "busybox"));
        assert!(glob_match("busybox:*", "busybox:latest"));
        assert!(!glob_match("busy*", "library/busybox"));
        assert!(glob_match("*/app", "team/app"));
        assert!(glob_match("b?sybox", "busybox"));
    }

    #[test]
    fn filters_parse_and_refuse_as_docker() {
        let t = tempfile::tempdir().unwrap();
        let store = Store::open(t.path()).unwrap();
        let f = ImageFilters::parse_args(
            &store,
            &[
                "dangling=true".into(),
                "label=a=b".into(),
                "reference=x*".into(),
            ],
        )
        .unwrap();
        assert_eq!(f.dangling, Some(true));
        assert_eq!(f.labels, [("a".to_string(), Some("b".to_string()))]);
        assert!(f.matches_name("xray", "1") && !f.matches_name("yak", "1"));
        let e = ImageFilters::parse_args(&store, &["color=red".into()]).unwrap_err();
        assert!(e.to_string().starts_with("invalid filter 'color'"), "{e}");
        let e = ImageFilters::parse_args(&store, &["before=nothing".into()]).unwrap_err();
        assert!(matches!(e, Error::NoSuchImage(_)), "{e}");
    }
}
