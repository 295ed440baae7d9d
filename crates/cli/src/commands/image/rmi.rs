//! `berth rmi` / `image rm`.

use std::path::Path;

use anyhow::Result;
use berth_image::RemoveEvent;
use clap::Args;

#[derive(Args)]
pub struct RmiArgs {
    /// Force removal of the image
    #[arg(short, long)]
    pub(crate) force: bool,
    /// Do not delete untagged parents
    #[arg(long)]
    pub(crate) no_prune: bool,
    /// IMAGE [IMAGE...]
    #[arg(required = true)]
    pub(crate) images: Vec<String>,
}

pub(crate) fn print_events(events: &[RemoveEvent], lower: bool) {
    for e in events {
        match (e, lower) {
            (RemoveEvent::Untagged(t), false) => println!("Untagged: {t}"),
            (RemoveEvent::Deleted(d), false) => println!("Deleted: {d}"),
            (RemoveEvent::Untagged(t), true) => println!("untagged: {t}"),
            (RemoveEvent::Deleted(d), true) => println!("deleted: {d}"),
        }
    }
}

pub fn rmi(root: &Path, a: RmiArgs) -> Result<u8> {
    let rt = crate::commands::shared::open(root)?;
    let mut code = 0;
    for name in &a.images {
        match rt.remove_image(name, a.force) {
            Ok(events) => print_events(&events, false),
            Err(e) => {
                eprintln!("Error: {e}");
                code = 1;
            }
        }
    }
    Ok(code)
}
