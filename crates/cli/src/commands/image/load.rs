//! `berth load`.

use std::fs::File;
use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use berth_image::archive;
use clap::Args;

use super::store::open_store;

#[derive(Args)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short, long)]
    pub(crate) input: Option<PathBuf>,
    /// Suppress the load output (the progress; what was loaded is still printed, as Docker)
    #[arg(short, long)]
    pub(crate) quiet: bool,
}

pub fn load(root: &Path, a: LoadArgs) -> Result<u8> {
    let store = open_store(root)?;
    let loaded = match &a.input {
        Some(p) => {
            let f = File::open(p).with_context(|| format!("open {}", p.display()))?;
            archive::load(&store, f, &p.display().to_string())?
        }
        None => {
            let stdin = io::stdin();
            if stdin.is_terminal() {
                bail!("requested load from stdin, but stdin is empty");
            }
            archive::load(&store, stdin.lock(), "stdin")?
        }
    };
    // Docker's -q hides only the progress, never these lines; berth shows no progress while
    // loading, so -q changes nothing.
    let _ = a.quiet;
    for l in loaded {
        if l.tags.is_empty() {
            println!("Loaded image ID: {}", l.id);
        }
        for t in l.tags {
            println!("Loaded image: {t}");
        }
    }
    Ok(0)
}
