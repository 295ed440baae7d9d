//! `berth save`.

use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use berth_image::archive;
use clap::Args;

use super::store::open_store;

#[derive(Args)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long)]
    pub(crate) output: Option<PathBuf>,
    /// IMAGE [IMAGE...]
    #[arg(required = true)]
    pub(crate) images: Vec<String>,
}

pub fn save(root: &Path, a: SaveArgs) -> Result<u8> {
    let store = open_store(root)?;
    let chosen = archive::select(&store, &a.images)?;
    match a.output {
        Some(path) => {
            // Written beside the target and renamed, so a failed save leaves no half file.
            let tmp = path.with_file_name(format!(
                ".{}.berth-save-{}",
                path.file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("archive"),
                std::process::id()
            ));
            let result = (|| -> Result<()> {
                let f = File::create(&tmp).with_context(|| format!("create {}", tmp.display()))?;
                let w = archive::save(&store, &chosen, io::BufWriter::with_capacity(1 << 20, f))?;
                let f = w.into_inner().map_err(|e| e.into_error())?;
                f.sync_all()?;
                std::fs::rename(&tmp, &path)
                    .with_context(|| format!("rename to {}", path.display()))?;
                Ok(())
            })();
            if result.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            result?;
        }
        None => {
            let out = io::stdout();
            if out.is_terminal() {
                bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            let mut w = archive::save(
                &store,
                &chosen,
                io::BufWriter::with_capacity(1 << 20, out.lock()),
            )?;
            w.flush()?;
        }
    }
    Ok(0)
}
