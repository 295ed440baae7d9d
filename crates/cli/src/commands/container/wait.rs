//! `berth wait`.

use std::path::Path;

use anyhow::Result;
use clap::Args;

use crate::commands::shared::open;

#[derive(Args)]
pub struct WaitArgs {
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn wait(root: &Path, a: WaitArgs) -> Result<u8> {
    let rt = open(root)?;
    let mut code = 0;
    for k in &a.containers {
        match rt.wait(k) {
            Ok(c) => println!("{c}"),
            Err(e) => {
                eprintln!("Error: {e}");
                code = 1;
            }
        }
    }
    Ok(code)
}
