//! `berth info`: the engine's and host's facts (`Runtime::info`) in Docker's layout, or
//! through `--format`.

use std::path::Path;

use anyhow::{anyhow, Result};
use clap::Args;

use crate::output::human_binary_size;
use crate::template::Template;

#[derive(Args)]
pub struct InfoArgs {
    /// Format output using a custom template
    #[arg(short, long)]
    format: Option<String>,
}

pub fn info(root: &Path, a: InfoArgs) -> Result<u8> {
    let rt = berth_runtime::Runtime::open(root).map_err(|e| anyhow!("{e}"))?;
    let i = rt.info().map_err(|e| anyhow!("{e}"))?;
    let json = serde_json::to_value(&i)?;
    if let Some(f) = a.format.as_deref() {
        let f = if f == "json" { "{{json .}}" } else { f };
        let t = Template::parse(f).map_err(|e| anyhow!(e))?;
        println!("{}", t.render(&json).map_err(|e| anyhow!("template: {e}"))?);
        return Ok(0);
    }
    let version = env!("CARGO_PKG_VERSION");
    println!("Client:");
    println!(" Version:    {version}");
    println!(" Context:    default");
    println!(" Debug Mode: false");
    println!();
    println!("Server:");
    println!(" Containers: {}", i.containers);
    println!("  Running: {}", i.containers_running);
    println!("  Paused: {}", i.containers_paused);
    println!("  Stopped: {}", i.containers_stopped);
    println!(" Images: {}", i.images);
    println!(" Server Version: {}", i.server_version);
    println!(" Storage Driver: {}", i.driver);
    println!(" Logging Driver: {}", i.logging_driver);
    println!(" Cgroup Driver: {}", i.cgroup_driver);
    println!(" Cgroup Version: {}", i.cgroup_version);
    println!(" Default Runtime: {}", i.default_runtime);
    println!(" Security Options:");
    for o in &i.security_options {
        // Docker shows `name=seccomp,profile=builtin` as `seccomp` + `Profile: builtin`.
        let mut parts = o.split(',');
        let name = parts.next().unwrap_or("").trim_start_matches("name=");
        println!("  {name}");
        for p in parts {
            if let Some((k, v)) = p.split_once('=') {
                let mut k = k.to_string();
                if let Some(first) = k.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                println!("   {k}: {v}");
            }
        }
    }
    println!(" Kernel Version: {}", i.kernel_version);
    println!(" Operating System: {}", i.operating_system);
    println!(" OSType: {}", i.os_type);
    println!(" Architecture: {}", i.architecture);
    println!(" CPUs: {}", i.ncpu);
    println!(" Total Memory: {}", human_binary_size(i.mem_total));
    println!(" Name: {}", i.name);
    println!(" ID: {}", i.id);
    println!(" Docker Root Dir: {}", i.docker_root_dir);
    println!(" Debug Mode: {}", i.debug);
    println!(" Experimental: {}", i.experimental_build);
    println!(" Live Restore Enabled: {}", i.live_restore_enabled);
    for w in &i.warnings {
        eprintln!("{w}");
    }
    Ok(0)
}
