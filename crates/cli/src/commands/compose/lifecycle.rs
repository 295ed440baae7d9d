//! Flags of `compose stop`, `restart`, `kill` and `rm`.

use clap::Args;

#[derive(Args)]
pub(crate) struct StopArgs {
    /// Specify a shutdown timeout in seconds
    #[arg(short = 't', long = "timeout")]
    pub(crate) timeout: Option<u64>,
    pub(crate) services: Vec<String>,
}

#[derive(Args)]
pub(crate) struct KillArgs {
    /// SIGNAL to send to the container
    #[arg(short, long, default_value = "SIGKILL")]
    pub(crate) signal: String,
    pub(crate) services: Vec<String>,
}

#[derive(Args)]
pub(crate) struct RmArgs {
    /// Don't ask to confirm removal
    #[arg(short, long)]
    pub(crate) force: bool,
    /// Stop the containers, if required, before removing
    #[arg(short, long)]
    pub(crate) stop: bool,
    /// Remove any anonymous volumes attached to containers
    #[arg(short, long)]
    pub(crate) volumes: bool,
    pub(crate) services: Vec<String>,
}
