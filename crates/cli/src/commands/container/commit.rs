//! `berth commit`.

use std::path::Path;

use anyhow::Result;
use clap::Args;

use crate::commands::shared::{engine_error, open};

#[derive(Args)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short, long)]
    author: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short, long = "change")]
    change: Vec<String>,
    /// Commit message
    #[arg(short, long)]
    message: Option<String>,
    /// Pause container during commit
    #[arg(short, long, default_value = "true", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", action = clap::ArgAction::Set, value_name = "BOOL")]
    pause: bool,
    container: String,
    /// [REPOSITORY[:TAG]]
    reference: Option<String>,
}

pub fn commit(root: &Path, a: CommitArgs) -> Result<u8> {
    let rt = open(root)?;
    let img = rt
        .commit(
            &a.container,
            &a.change,
            a.message.clone(),
            a.author.clone(),
            a.reference.as_deref(),
            a.pause,
        )
        .map_err(engine_error)?;
    println!("{}", img.id());
    Ok(0)
}
