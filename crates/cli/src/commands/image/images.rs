//! `berth images` / `image ls`: the image crate's list with Docker's columns, filters and
//! `--format`.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Result;
use berth_image::Reference;
use clap::Args;
use serde_json::{json, Value};

use super::store::open_store;
use crate::output::{created_at, human_since, human_size, print_table};

#[derive(Args)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short, long)]
    pub(crate) all: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub(crate) quiet: bool,
    /// Don't truncate output
    #[arg(long)]
    pub(crate) no_trunc: bool,
    /// Show digests
    #[arg(long)]
    pub(crate) digests: bool,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template
    #[arg(long)]
    pub(crate) format: Option<String>,
    /// Filter output based on conditions provided (dangling=, reference=, label=, before=, since=)
    #[arg(short, long = "filter")]
    pub(crate) filter: Vec<String>,
    /// [REPOSITORY[:TAG]]
    pub(crate) repository: Option<String>,
}

const IMAGE_HEADERS: &[(&str, &str)] = &[
    ("ID", "IMAGE ID"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("Repository", "REPOSITORY"),
    ("Tag", "TAG"),
    ("Size", "SIZE"),
    ("Digest", "DIGEST"),
];

pub fn images(root: &Path, a: ImagesArgs) -> Result<u8> {
    let store = open_store(root)?;
    let filters = berth_image::image_list::ImageFilters::parse_args(&store, &a.filter)?;
    let wanted_repo = a
        .repository
        .as_deref()
        .map(|r| -> Result<(String, Option<String>)> {
            let parsed = Reference::parse(r)?;
            Ok((parsed.name(), parsed.tag))
        })
        .transpose()?;
    let mut rows: Vec<Value> = Vec::new();
    let mut ids = Vec::new();
    for img in store.list_images_filtered(&filters)? {
        let created = img.config.created.clone();
        let size = store.image_size(&img);
        let id = if a.no_trunc {
            img.id().to_string()
        } else {
            img.id().short().to_string()
        };
        let digest = img
            .record
            .repo_digests
            .first()
            .and_then(|d| d.split_once('@').map(|x| x.1.to_string()))
            .unwrap_or_else(|| "<none>".into());
        for (full, repo, tag) in berth_image::image_list::image_rows(&img) {
            if let Some((want, want_tag)) = &wanted_repo {
                if &full != want || want_tag.as_ref().is_some_and(|t| t != &tag) {
                    continue;
                }
            }
            if !filters.matches_name(&repo, &tag) {
                continue;
            }
            ids.push(id.clone());
            rows.push(json!({
                "Containers": "N/A",
                "CreatedAt": created_at(created.as_deref()),
                "CreatedSince": human_since(created.as_deref()),
                "Digest": digest,
                "ID": id,
                "Repository": repo,
                "SharedSize": "N/A",
                "Size": human_size(size),
                "Tag": tag,
                "UniqueSize": "N/A",
                "VirtualSize": human_size(size),
            }));
        }
    }
    if a.quiet {
        let mut seen = BTreeSet::new();
        for id in ids {
            if seen.insert(id.clone()) {
                println!("{id}");
            }
        }
        return Ok(0);
    }
    let default = if a.digests {
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    } else {
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    };
    print_table(a.format.as_deref(), default, IMAGE_HEADERS, &rows)
}
