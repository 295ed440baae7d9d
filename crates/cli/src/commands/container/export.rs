//! `berth export`.

use std::io::Write;
use std::path::Path;

use anyhow::{anyhow, bail, Result};
use clap::Args;

use crate::commands::shared::{engine_error, open};

#[derive(Args)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long)]
    output: Option<std::path::PathBuf>,
    container: String,
}

pub fn export(root: &Path, a: ExportArgs) -> Result<u8> {
    use std::io::IsTerminal;
    let rt = open(root)?;
    let write = |w: Box<dyn Write + Send>| -> Result<()> {
        rt.export(&a.container, w).map_err(engine_error)
    };
    match &a.output {
        Some(p) => write(Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(|e| anyhow!("create {}: {e}", p.display()))?,
        )))?,
        None => {
            if std::io::stdout().is_terminal() {
                bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            write(Box::new(std::io::BufWriter::new(std::io::stdout())))?
        }
    }
    Ok(0)
}
