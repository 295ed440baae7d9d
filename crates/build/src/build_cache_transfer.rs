//! `build --cache-to` and `--cache-from` as BuildKit takes them: `type=local,dest=DIR` /
//! `type=local,src=DIR` (an OCI image layout), `type=registry,ref=REF` (a tag in a registry;
//! a bare `REF` in `--cache-from` when no local image has that name; an image pushed with
//! `--cache-to type=inline` is read there too), `type=inline`, `mode=min` (the steps
//! of the final image, the default) or `mode=max` (every step of every stage). The format is
//! in `berth_image::build_cache_exchange`; where a registry cache lives, the front end says
//! (`BuildHost::cache_source`, `cache_sink`: the builder knows no registries).

use std::path::PathBuf;

/// One `--cache-to` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheExport {
    pub place: CachePlace,
    /// `mode=max`: every step this build ran or reused, not only the final image's.
    pub all_steps: bool,
}

/// Where a cache is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CachePlace {
    /// An OCI image layout directory.
    Local(PathBuf),
    /// A registry reference (`registry.example:5000/app:buildcache`).
    Registry(String),
    /// In the built image's config (`type=inline`), for `--cache-from` of that image once
    /// pushed.
    Inline,
}

impl std::fmt::Display for CachePlace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CachePlace::Local(d) => write!(f, "type=local,dest={}", d.display()),
            CachePlace::Registry(r) => write!(f, "type=registry,ref={r}"),
            CachePlace::Inline => write!(f, "type=inline"),
        }
    }
}

/// `KEY=VALUE,…` fields of a cache option, with the option named in errors.
fn fields(flag: &str, value: &str) -> Result<Vec<(String, String)>, String> {
    value
        .split(',')
        .map(|part| match part.split_once('=') {
            Some((k, v)) => Ok((k.trim().to_string(), v.to_string())),
            None => Err(format!(
                "invalid argument {value:?} for \"{flag}\" flag: {part:?} is not KEY=VALUE"
            )),
        })
        .collect()
}

impl CacheExport {
    /// Parses a `--cache-to` value.
    pub fn parse(value: &str) -> Result<CacheExport, String> {
        let flag = "--cache-to";
        let bad = |m: String| format!("invalid argument {value:?} for \"{flag}\" flag: {m}");
        let mut kind = None;
        let (mut dest, mut reference, mut all_steps) = (None, None, false);
        for (k, v) in fields(flag, value)? {
            match k.as_str() {
                "type" => kind = Some(v),
                "dest" => dest = Some(v),
                "ref" => reference = Some(v),
                "mode" => {
                    all_steps = match v.as_str() {
                        "min" => false,
                        "max" => true,
                        _ => return Err(bad(format!("mode={v}: expected min or max"))),
                    }
                }
                // Settings of BuildKit's own cache format that berth's has no use for.
                "compression" | "compression-level" | "force-compression" | "oci-mediatypes"
                | "image-manifest" | "ignore-error" => {}
                other => return Err(bad(format!("unknown field {other:?}"))),
            }
        }
        let place = match kind.as_deref() {
            Some("local") => match dest {
                Some(d) if !d.is_empty() => CachePlace::Local(d.into()),
                _ => return Err(bad("type=local needs dest=DIRECTORY".into())),
            },
            Some("registry") => match reference {
                Some(r) if !r.is_empty() => CachePlace::Registry(r),
                _ => return Err(bad("type=registry needs ref=REFERENCE".into())),
            },
            Some("inline") => CachePlace::Inline,
            Some(other) => {
                return Err(bad(format!(
                    "unsupported cache exporter type {other:?} (expected local or registry)"
                )))
            }
            None => return Err(bad("type= is required (local or registry)".into())),
        };
        Ok(CacheExport { place, all_steps })
    }
}

/// One `--cache-from` value: a typed import, or a bare name (a local image, as the classic
/// builder took it, or else a registry reference, as BuildKit takes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheImport {
    Place(CachePlace),
    Name(String),
}

impl CacheImport {
    /// Parses a `--cache-from` value.
    pub fn parse(value: &str) -> Result<CacheImport, String> {
        let flag = "--cache-from";
        if !value.contains('=') {
            if value.is_empty() {
                return Err(format!(
                    "invalid argument \"\" for \"{flag}\" flag: expected a reference or type=…"
                ));
            }
            return Ok(CacheImport::Name(value.to_string()));
        }
        let bad = |m: String| format!("invalid argument {value:?} for \"{flag}\" flag: {m}");
        let (mut kind, mut src, mut reference) = (None, None, None);
        for (k, v) in fields(flag, value)? {
            match k.as_str() {
                "type" => kind = Some(v),
                "src" => src = Some(v),
                "ref" => reference = Some(v),
                "digest" | "tag" => {
                    return Err(bad(format!(
                        "{k}= is not supported by berth (use src= or ref=)"
                    )))
                }
                other => return Err(bad(format!("unknown field {other:?}"))),
            }
        }
        Ok(CacheImport::Place(match kind.as_deref() {
            Some("local") => match src {
                Some(d) if !d.is_empty() => CachePlace::Local(d.into()),
                _ => return Err(bad("type=local needs src=DIRECTORY".into())),
            },
            Some("registry") | None => match reference {
                Some(r) if !r.is_empty() => CachePlace::Registry(r),
                _ => return Err(bad("type=registry needs ref=REFERENCE".into())),
            },
            Some(other) => {
                return Err(bad(format!(
                    "unsupported cache importer type {other:?} (expected local or registry)"
                )))
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_options_read_as_buildkit_writes_them() {
        assert_eq!(
            CacheExport::parse("type=local,dest=/tmp/c,mode=max").unwrap(),
            CacheExport {
                place: CachePlace::Local("/tmp/c".into()),
                all_steps: true
            }
        );
        assert_eq!(
            CacheExport::parse("type=registry,ref=localhost:5000/app:cache").unwrap(),
            CacheExport {
                place: CachePlace::Registry("localhost:5000/app:cache".into()),
                all_steps: false
            }
        );
        for (bad, says) in [
            ("type=local", "needs dest="),
            ("type=registry", "needs ref="),
            ("type=gha", "unsupported cache exporter type \"gha\""),
            ("type=local,dest=d,mode=most", "expected min or max"),
            ("dest=d", "type= is required"),
            ("type=local,dest=d,colour=red", "unknown field \"colour\""),
        ] {
            let e = CacheExport::parse(bad).unwrap_err();
            assert!(e.contains(says) && e.contains("--cache-to"), "{bad}: {e}");
        }
        assert_eq!(
            CacheExport::parse("type=inline").unwrap().place,
            CachePlace::Inline
        );
        assert_eq!(
            CacheImport::parse("app:cache").unwrap(),
            CacheImport::Name("app:cache".into())
        );
        assert_eq!(
            CacheImport::parse("type=local,src=/c").unwrap(),
            CacheImport::Place(CachePlace::Local("/c".into()))
        );
        assert_eq!(
            CacheImport::parse("ref=r/app:c").unwrap(),
            CacheImport::Place(CachePlace::Registry("r/app:c".into()))
        );
        let e = CacheImport::parse("type=local,dest=/c").unwrap_err();
        assert!(e.contains("unknown field \"dest\""), "{e}");
    }
}
