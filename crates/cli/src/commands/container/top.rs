//! `berth top`.

use std::path::Path;

use anyhow::Result;
use clap::Args;

use crate::commands::shared::{engine_error, open};

#[derive(Args)]
pub struct TopArgs {
    container: String,
    /// ps options (default -ef)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    ps_args: Vec<String>,
}

pub fn top(root: &Path, a: TopArgs) -> Result<u8> {
    let rt = open(root)?;
    let r = rt.top(&a.container, &a.ps_args).map_err(engine_error)?;
    print_top(&r);
    Ok(0)
}

/// A top report as the docker CLI lays it out.
pub(crate) fn print_top(r: &berth_runtime::container_top::TopReport) {
    // The docker CLI's layout: columns at least 20 wide, 3 spaces apart.
    let widths: Vec<usize> = (0..r.titles.len())
        .map(|i| {
            let widest = std::iter::once(&r.titles)
                .chain(&r.processes)
                .filter_map(|row| row.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0);
            (widest + 3).max(20)
        })
        .collect();
    let line = |row: &[String]| {
        let mut out = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}", w = widths[i]));
            }
        }
        out
    };
    println!("{}", line(&r.titles));
    for p in &r.processes {
        println!("{}", line(p));
    }
}
