//! `berth compose down`'s flags.

use clap::Args;

#[derive(Args)]
pub(crate) struct DownArgs {
    /// Remove named volumes declared in the "volumes" section and anonymous volumes
    #[arg(short, long)]
    pub(crate) volumes: bool,
    /// Remove containers for services not defined in the Compose file
    #[arg(long)]
    pub(crate) remove_orphans: bool,
    /// Remove images used by services: "local" (those without a custom tag) or "all"
    #[arg(long)]
    pub(crate) rmi: Option<String>,
}
