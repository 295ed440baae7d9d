//! `berth run` and `berth create`: the request built from flags, the image pulled if missing,
//! `--cidfile`.

use std::path::Path;

use anyhow::{anyhow, bail, Result};
use berth_error_kind::{ErrorKind, HasKind};
use berth_runtime::record::ContainerRecord;
use berth_runtime::Runtime;

use super::foreground::{attach_to_started, detach_keys, run_in_foreground};
use crate::commands::run_flags::create_request;
use crate::commands::run_flags::RunArgs;
use crate::commands::shared::{engine_error, flag_error, open, ExitError};

/// `--cidfile`: refused if the file exists, as Docker does.
fn check_cidfile(a: &RunArgs) -> Result<()> {
    if let Some(p) = &a.cidfile {
        if p.exists() {
            bail!(ExitError { code: 125, message: format!("container ID file found, make sure the other container isn't running or delete {}", p.display()) });
        }
    }
    Ok(())
}

fn write_cidfile(a: &RunArgs, id: &str) -> Result<()> {
    if let Some(p) = &a.cidfile {
        std::fs::write(p, id).map_err(|e| {
            anyhow!(ExitError {
                code: 125,
                message: format!("failed to write the container ID file {}: {e}", p.display())
            })
        })?;
    }
    Ok(())
}

/// Pulls the image first when it is missing (or always), as Docker's `--pull` says; pull
/// output goes to stderr so the container's own output stays clean.
fn ensure_image(root: &Path, a: &RunArgs, image: &str) -> Result<()> {
    let local = berth_image::Store::open(root).and_then(|s| s.lookup(image));
    // An image for another platform than --platform asks for is not the image wanted: as
    // with Docker, it is looked for in the registry (never run for the wrong platform).
    let platform_of = |img: &berth_image::Image| img.config.platform();
    let wrong_platform = match (&local, a.platform.as_deref()) {
        (Ok(img), Some(p)) if !img.config.matches_platform(p) => Some(platform_of(img)),
        _ => None,
    };
    // Only an image that is not there is pulled; a bad reference or a damaged store is an
    // error of its own, as with Docker.
    let not_found = match &local {
        Err(e) if e.kind() != ErrorKind::NotFound => bail!(ExitError {
            code: 125,
            message: e.to_string(),
        }),
        Err(_) => true,
        Ok(_) => false,
    };
    let missing = not_found || wrong_platform.is_some();
    let pull = match a.pull.as_str() {
        "always" => true,
        "missing" => missing,
        "never" => false,
        v => return Err(flag_error("--pull", v, "expected always, missing or never")),
    };
    let mismatch = |actual: &str, wanted: &str, why: String| {
        ExitError {
        code: 125,
        message: format!("image with reference {image} was found but its platform ({actual}) does not match the specified platform ({wanted}){why}"),
    }
    };
    if !pull {
        if let (Some(actual), Some(wanted)) = (&wrong_platform, a.platform.as_deref()) {
            bail!(mismatch(actual, wanted, String::new()));
        }
        return Ok(());
    }
    if missing {
        let shown = berth_image::Reference::parse_tagged_default(image)
            .map(|r| r.familiar_tagged())
            .unwrap_or_else(|_| image.to_string());
        eprintln!("Unable to find image '{shown}' locally");
    }
    let pulled = crate::commands::registry::pull_to_stderr(root, image, a.platform.clone());
    if let (Some(actual), Some(wanted)) = (&wrong_platform, a.platform.as_deref()) {
        let still_wrong = berth_image::Store::open(root)
            .and_then(|s| s.lookup(image))
            .map(|img| !img.config.matches_platform(wanted))
            .unwrap_or(true);
        if still_wrong {
            let why = pulled.err().map(|e| format!(": {e}")).unwrap_or_default();
            bail!(mismatch(actual, wanted, why));
        }
    }
    pulled.map_err(|e| {
        anyhow::Error::new(ExitError {
            code: 125,
            message: e.to_string(),
        })
    })
}

pub fn run(root: &Path, a: RunArgs) -> Result<u8> {
    use std::io::IsTerminal;
    // Only run attaches; `create -it` is fine without a terminal, as Docker's is.
    if a.tty && a.interactive && !a.detach && !std::io::stdin().is_terminal() {
        bail!(ExitError {
            code: 1,
            message: "the input device is not a TTY".into()
        });
    }
    // The container's first cgroup move waits for the kernel; start that wait now.
    berth_runtime::cgroups::CgroupFs::host().warm_attach_lock();
    let (rt, rec) = create_container(root, &a)?;
    if a.detach {
        let exe = std::env::current_exe()?;
        rt.start_detached(&rec.id, &exe).map_err(engine_error)?;
        println!("{}", rec.id);
        return Ok(0);
    }
    if a.tty && a.interactive {
        // Under a supervisor, so that the detach keys leave it running.
        let keys = detach_keys(a.detach_keys.as_deref())?;
        let exe = std::env::current_exe()?;
        rt.start_for_attach(&rec.id, &exe).map_err(engine_error)?;
        return attach_to_started(&rt, &rec, keys);
    }
    run_in_foreground(&rt, &rec)
}

pub fn create(root: &Path, a: RunArgs) -> Result<u8> {
    let (_, rec) = create_container(root, &a)?;
    println!("{}", rec.id);
    Ok(0)
}

/// What `run` and `create` share: the request from the flags, `--cidfile`, the image pulled
/// if missing, the container recorded.
fn create_container(root: &Path, a: &RunArgs) -> Result<(Runtime, ContainerRecord)> {
    let (name, spec) = create_request(a)?;
    check_cidfile(a)?;
    ensure_image(root, a, &spec.config.image)?;
    let rt = open(root)?;
    let (rec, warnings) = rt
        .create_with_warnings(name.as_deref(), &spec)
        .map_err(engine_error)?;
    for w in warnings {
        eprintln!("WARNING: {w}");
    }
    write_cidfile(a, &rec.id)?;
    Ok((rt, rec))
}
