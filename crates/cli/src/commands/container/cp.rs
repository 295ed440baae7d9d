//! `berth cp`.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Result};
use clap::Args;

use crate::commands::shared::{engine_error, open};

#[derive(Args)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information)
    #[arg(short, long)]
    archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long)]
    follow_link: bool,
    /// CONTAINER:SRC_PATH or SRC_PATH
    pub(crate) src: String,
    /// DEST_PATH or CONTAINER:DEST_PATH
    pub(crate) dest: String,
}

/// `CONTAINER:PATH` split, or None for a local path (absolute or relative, as docker cp).
pub(crate) fn split_container_path(s: &str) -> Option<(&str, &str)> {
    if s.starts_with('/') || s.starts_with('.') {
        return None;
    }
    s.split_once(':')
}

pub fn cp(root: &Path, a: CpArgs) -> Result<u8> {
    use std::io::IsTerminal;
    let rt = open(root)?;
    let o = berth_runtime::filesystem::CopyOptions {
        follow_link: a.follow_link,
        archive: a.archive,
    };
    match (split_container_path(&a.src), split_container_path(&a.dest)) {
        (Some((c, p)), None) if a.dest == "-" => {
            if std::io::stdout().is_terminal() {
                bail!(
                    "cowardly refusing to write a tar archive to a terminal; redirect the output"
                );
            }
            let out = std::io::BufWriter::new(std::io::stdout().lock());
            let mut out = rt
                .copy_from_as_tar(c, p, a.follow_link, out)
                .map_err(engine_error)?;
            out.flush()?;
        }
        (None, Some((c, p))) if a.src == "-" => rt
            .copy_to_from_tar(c, std::io::stdin().lock(), p)
            .map_err(engine_error)?,
        (Some((c, p)), None) => rt
            .copy_from(c, p, Path::new(&a.dest), &o)
            .map_err(engine_error)?,
        (None, Some((c, p))) => rt
            .copy_to(c, Path::new(&a.src), p, &o)
            .map_err(engine_error)?,
        (Some(_), Some(_)) => bail!("copying between containers is not supported"),
        (None, None) => bail!("must specify at least one container source"),
    }
    Ok(0)
}
