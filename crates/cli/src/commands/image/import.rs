//! `berth import`.

use std::fs::File;
use std::io::{self};
use std::path::Path;

use anyhow::{bail, Context, Result};
use berth_image::{import, Reference};
use clap::Args;

use super::store::open_store;

#[derive(Args)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image
    #[arg(short, long = "change")]
    pub(crate) change: Vec<String>,
    /// Set commit message for imported image
    #[arg(short, long)]
    pub(crate) message: Option<String>,
    /// Set platform if server is multi-platform capable
    #[arg(long)]
    pub(crate) platform: Option<String>,
    /// file|- (a tarball, optionally gzip or zstd compressed)
    pub(crate) file: String,
    /// [REPOSITORY[:TAG]]
    pub(crate) reference: Option<String>,
}

pub fn import(root: &Path, a: ImportArgs) -> Result<u8> {
    if let Some(p) = &a.platform {
        let host = format!("linux/{}", berth_image::config::host_architecture());
        if p != &host {
            bail!("--platform {p}: berth imports for this machine's platform ({host}) only");
        }
    }
    if a.file.starts_with("http://") || a.file.starts_with("https://") {
        bail!(
            "importing from a URL ({}) is not supported yet: download it and import the file",
            a.file
        );
    }
    let tag = a
        .reference
        .as_deref()
        .map(Reference::parse_tagged_default)
        .transpose()?;
    let store = open_store(root)?;
    let opts = import::ImportOptions {
        changes: a.change,
        message: a.message,
        source: a.file.clone(),
        tag,
    };
    let img = if a.file == "-" {
        import::import(&store, io::stdin().lock(), &opts)?
    } else {
        let f = File::open(&a.file).with_context(|| format!("open {}", a.file))?;
        import::import(&store, f, &opts)?
    };
    println!("{}", img.id());
    Ok(0)
}
