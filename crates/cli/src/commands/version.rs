//! `berth version`: this binary's half ("Client") and the engine's
//! (`berth_runtime::system_version`, "Server"), in Docker's layout or through `--format`.

use anyhow::{anyhow, Result};
use berth_runtime::system_version::{version_report, API_VERSION};
use clap::Args;
use serde_json::json;

use crate::template::Template;

#[derive(Args)]
pub struct VersionArgs {
    /// Format output using a custom template ('json', or a Go template)
    #[arg(short, long)]
    format: Option<String>,
}

pub fn version(a: VersionArgs) -> Result<u8> {
    let server = version_report();
    let client = json!({
        "Platform": {"Name": "berth"},
        "Version": env!("CARGO_PKG_VERSION"),
        "ApiVersion": API_VERSION,
        "DefaultAPIVersion": API_VERSION,
        "GitCommit": "",
        "GoVersion": "",
        "Os": "linux",
        "Arch": server.arch,
        "BuildTime": "",
        "Context": "default",
    });
    if let Some(f) = a.format.as_deref() {
        let data = json!({"Client": client, "Server": server});
        let f = if f == "json" { "{{json .}}" } else { f };
        let t = Template::parse(f).map_err(|e| anyhow!(e))?;
        println!("{}", t.render(&data).map_err(|e| anyhow!("template: {e}"))?);
        return Ok(0);
    }
    // Docker's layout; its Go version, Git commit and Built lines are left out: berth is
    // not Go and records neither (docs/differences.md).
    println!("Client:");
    println!(" Version:           {}", env!("CARGO_PKG_VERSION"));
    println!(" API version:       {API_VERSION}");
    println!(" OS/Arch:           linux/{}", server.arch);
    println!(" Context:           default");
    println!();
    println!("Server: {}", server.platform.name);
    for c in &server.components {
        println!(" {}:", c.name);
        println!("  Version:          {}", c.version);
        if c.name == "Engine" {
            println!(
                "  API version:      {} (minimum version {})",
                server.api_version, server.min_api_version
            );
            println!("  OS/Arch:          {}/{}", server.os, server.arch);
            println!("  Experimental:     false");
        }
    }
    Ok(0)
}
