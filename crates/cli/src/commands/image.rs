//! Image commands: images, import, tag, rmi, history, save, load, inspect, image prune, system df.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use berth_image::images::familiar;
use berth_image::{archive, import, inspect, Reference, RemoveEvent, Store};
use clap::Args;
use serde_json::{json, Value};

use crate::output::{created_at, go_json, human_since, human_size, tabulate};
use crate::template::Template;

fn open_store(root: &Path) -> Result<Store> {
    Store::open(root).with_context(|| format!("cannot open the berth store at {}", root.display()))
}

#[derive(Args)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short, long)]
    all: bool,
    /// Only show image IDs
    #[arg(short, long)]
    quiet: bool,
    /// Don't truncate output
    #[arg(long)]
    no_trunc: bool,
    /// Show digests
    #[arg(long)]
    digests: bool,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template
    #[arg(long)]
    format: Option<String>,
    /// Filter output based on conditions provided (dangling=, reference=, label=, before=, since=)
    #[arg(short, long = "filter")]
    filter: Vec<String>,
    /// [REPOSITORY[:TAG]]
    repository: Option<String>,
}

const IMAGE_HEADERS: &[(&str, &str)] = &[
    ("ID", "IMAGE ID"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("Repository", "REPOSITORY"),
    ("Tag", "TAG"),
    ("Size", "SIZE"),
    ("Digest", "DIGEST"),
];

pub fn images(root: &Path, a: ImagesArgs) -> Result<u8> {
    let store = open_store(root)?;
    let filters = berth_image::image_list::ImageFilters::parse_args(&store, &a.filter)?;
    let wanted_repo = a
        .repository
        .as_deref()
        .map(|r| -> Result<(String, Option<String>)> {
            let parsed = Reference::parse(r)?;
            Ok((parsed.name(), parsed.tag))
        })
        .transpose()?;
    let mut rows: Vec<Value> = Vec::new();
    let mut ids = Vec::new();
    for img in store.list_images_filtered(&filters)? {
        let created = img.config.created.clone();
        let size = store.image_size(&img);
        let id = if a.no_trunc {
            img.id().to_string()
        } else {
            img.id().short().to_string()
        };
        let digest = img
            .record
            .repo_digests
            .first()
            .and_then(|d| d.split_once('@').map(|x| x.1.to_string()))
            .unwrap_or_else(|| "<none>".into());
        for (full, repo, tag) in berth_image::image_list::image_rows(&img) {
            if let Some((want, want_tag)) = &wanted_repo {
                if &full != want || want_tag.as_ref().is_some_and(|t| t != &tag) {
                    continue;
                }
            }
            if !filters.matches_name(&repo, &tag) {
                continue;
            }
            ids.push(id.clone());
            rows.push(json!({
                "Containers": "N/A",
                "CreatedAt": created_at(created.as_deref()),
                "CreatedSince": human_since(created.as_deref()),
                "Digest": digest,
                "ID": id,
                "Repository": repo,
                "SharedSize": "N/A",
                "Size": human_size(size),
                "Tag": tag,
                "UniqueSize": "N/A",
                "VirtualSize": human_size(size),
            }));
        }
    }
    if a.quiet {
        let mut seen = BTreeSet::new();
        for id in ids {
            if seen.insert(id.clone()) {
                println!("{id}");
            }
        }
        return Ok(0);
    }
    let default = if a.digests {
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    } else {
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    };
    print_table(a.format.as_deref(), default, IMAGE_HEADERS, &rows)
}

/// Prints rows with `--format` (Go template, `table …`, `json`) or the default table.
pub fn print_table(
    format: Option<&str>,
    default: &str,
    headers: &[(&str, &str)],
    rows: &[Value],
) -> Result<u8> {
    let format = match format {
        None | Some("") | Some("table") => default,
        Some("json") => "{{json .}}",
        Some(f) => f,
    };
    let t = Template::parse(format).map_err(|e| anyhow!(e))?;
    let mut text = String::new();
    if t.table {
        text.push_str(&t.header(headers));
        text.push('\n');
    }
    for r in rows {
        text.push_str(&t.render(r).map_err(|e| anyhow!("template: {e}"))?);
        text.push('\n');
    }
    let out = if t.table { tabulate(&text) } else { text };
    print!("{out}");
    Ok(0)
}

#[derive(Args)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image
    #[arg(short, long = "change")]
    change: Vec<String>,
    /// Set commit message for imported image
    #[arg(short, long)]
    message: Option<String>,
    /// Set platform if server is multi-platform capable
    #[arg(long)]
    platform: Option<String>,
    /// file|- (a tarball, optionally gzip or zstd compressed)
    file: String,
    /// [REPOSITORY[:TAG]]
    reference: Option<String>,
}

pub fn import(root: &Path, a: ImportArgs) -> Result<u8> {
    if let Some(p) = &a.platform {
        let host = format!("linux/{}", berth_image::config::host_architecture());
        if p != &host {
            bail!("--platform {p}: berth imports for this machine's platform ({host}) only");
        }
    }
    if a.file.starts_with("http://") || a.file.starts_with("https://") {
        bail!(
            "importing from a URL ({}) is not supported yet: download it and import the file",
            a.file
        );
    }
    let tag = a
        .reference
        .as_deref()
        .map(Reference::parse_tagged_default)
        .transpose()?;
    let store = open_store(root)?;
    let opts = import::ImportOptions {
        changes: a.change,
        message: a.message,
        source: a.file.clone(),
        tag,
    };
    let img = if a.file == "-" {
        import::import(&store, io::stdin().lock(), &opts)?
    } else {
        let f = File::open(&a.file).with_context(|| format!("open {}", a.file))?;
        import::import(&store, f, &opts)?
    };
    println!("{}", img.id());
    Ok(0)
}

#[derive(Args)]
pub struct TagArgs {
    /// SOURCE_IMAGE[:TAG]
    source: String,
    /// TARGET_IMAGE[:TAG]
    target: String,
}

pub fn tag(root: &Path, a: TagArgs) -> Result<u8> {
    let store = open_store(root)?;
    store.tag_image(&a.source, &a.target)?;
    Ok(0)
}

#[derive(Args)]
pub struct RmiArgs {
    /// Force removal of the image
    #[arg(short, long)]
    force: bool,
    /// Do not delete untagged parents
    #[arg(long)]
    no_prune: bool,
    /// IMAGE [IMAGE...]
    #[arg(required = true)]
    images: Vec<String>,
}

fn print_events(events: &[RemoveEvent], lower: bool) {
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
    let rt = super::container::open(root)?;
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

#[derive(Args)]
pub struct HistoryArgs {
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long, default_value = "true", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", action = clap::ArgAction::Set, value_name = "BOOL")]
    human: bool,
    /// Don't truncate output
    #[arg(long)]
    no_trunc: bool,
    /// Only show image IDs
    #[arg(short, long)]
    quiet: bool,
    /// Format output using a custom template
    #[arg(long)]
    format: Option<String>,
    image: String,
}

pub fn history(root: &Path, a: HistoryArgs) -> Result<u8> {
    let store = open_store(root)?;
    let img = store.lookup(&a.image)?;
    let rows: Vec<Value> = store
        .history(&img)
        .into_iter()
        .map(|h| {
            // Tabs and line breaks (a RUN here-document) would break the table's columns.
            let created_by = h.created_by.replace(['\t', '\n'], " ");
            let shown_by = if a.no_trunc || created_by.chars().count() <= 45 {
                created_by.clone()
            } else {
                format!("{}…", created_by.chars().take(44).collect::<String>())
            };
            let id = if h.id == "<missing>" || a.no_trunc {
                h.id.clone()
            } else {
                img.id().short().to_string()
            };
            json!({
                "ID": id,
                "CreatedSince": if a.human { human_since(h.created_at.as_deref()) } else { h.created_at.clone().unwrap_or_default() },
                "CreatedAt": h.created_at.clone().unwrap_or_default(),
                "CreatedBy": shown_by,
                "Size": if a.human { human_size(h.size) } else { h.size.to_string() },
                "Comment": h.comment,
            })
        })
        .collect();
    if a.quiet {
        for r in &rows {
            println!("{}", r["ID"].as_str().unwrap_or_default());
        }
        return Ok(0);
    }
    print_table(
        a.format.as_deref(),
        "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
        &[
            ("ID", "IMAGE"),
            ("CreatedSince", "CREATED"),
            ("CreatedBy", "CREATED BY"),
            ("CreatedAt", "CREATED AT"),
        ],
        &rows,
    )
}

#[derive(Args)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// IMAGE [IMAGE...]
    #[arg(required = true)]
    images: Vec<String>,
}

pub fn save(root: &Path, a: SaveArgs) -> Result<u8> {
    let store = open_store(root)?;
    let chosen = archive::select(&store, &a.images)?;
    match a.output {
        Some(path) => {
            // Written beside the target and renamed, so a failed save leaves no half file.
            let tmp = path.with_file_name(format!(
                ".{}.berth-save-{}",
                path.file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("archive"),
                std::process::id()
            ));
            let result = (|| -> Result<()> {
                let f = File::create(&tmp).with_context(|| format!("create {}", tmp.display()))?;
                let w = archive::save(&store, &chosen, io::BufWriter::with_capacity(1 << 20, f))?;
                let f = w.into_inner().map_err(|e| e.into_error())?;
                f.sync_all()?;
                std::fs::rename(&tmp, &path)
                    .with_context(|| format!("rename to {}", path.display()))?;
                Ok(())
            })();
            if result.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            result?;
        }
        None => {
            let out = io::stdout();
            if out.is_terminal() {
                bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            let mut w = archive::save(
                &store,
                &chosen,
                io::BufWriter::with_capacity(1 << 20, out.lock()),
            )?;
            w.flush()?;
        }
    }
    Ok(0)
}

#[derive(Args)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short, long)]
    input: Option<PathBuf>,
    /// Suppress the load output (the progress; what was loaded is still printed, as Docker)
    #[arg(short, long)]
    quiet: bool,
}

pub fn load(root: &Path, a: LoadArgs) -> Result<u8> {
    let store = open_store(root)?;
    let loaded = match &a.input {
        Some(p) => {
            let f = File::open(p).with_context(|| format!("open {}", p.display()))?;
            archive::load(&store, f, &p.display().to_string())?
        }
        None => {
            let stdin = io::stdin();
            if stdin.is_terminal() {
                bail!("requested load from stdin, but stdin is empty");
            }
            archive::load(&store, stdin.lock(), "stdin")?
        }
    };
    // Docker's -q hides only the progress, never these lines; berth shows no progress while
    // loading, so -q changes nothing.
    let _ = a.quiet;
    for l in loaded {
        if l.tags.is_empty() {
            println!("Loaded image ID: {}", l.id);
        }
        for t in l.tags {
            println!("Loaded image: {t}");
        }
    }
    Ok(0)
}

#[derive(Args)]
pub struct InspectArgs {
    /// Format output using a custom template
    #[arg(short, long)]
    format: Option<String>,
    /// Return JSON for specified type
    #[arg(long = "type")]
    pub kind: Option<String>,
    /// Display total file sizes if the type is container
    #[arg(short, long)]
    size: bool,
    #[arg(required = true)]
    names: Vec<String>,
}

/// Docker's object types for `inspect --type`; berth has no swarm objects or plugins.
const INSPECT_TYPES: [&str; 10] = [
    "config",
    "container",
    "image",
    "network",
    "node",
    "plugin",
    "secret",
    "service",
    "task",
    "volume",
];

pub fn inspect(root: &Path, a: InspectArgs, image_only: bool) -> Result<u8> {
    let kind = a
        .kind
        .as_deref()
        .unwrap_or(if image_only { "image" } else { "" });
    if !kind.is_empty() && !INSPECT_TYPES.contains(&kind) {
        let all: Vec<String> = INSPECT_TYPES.iter().map(|t| format!("{t:?}")).collect();
        bail!("unknown type: {kind:?}: must be one of {}", all.join(", "));
    }
    if !matches!(kind, "" | "image" | "container" | "network" | "volume") {
        bail!("--type {kind}: berth has no {kind} objects (no swarm mode or plugins)");
    }
    let store = open_store(root)?;
    let rt = berth_runtime::Runtime::open(root).map_err(|e| anyhow!("{e}"))?;
    let vols = rt.volumes().map_err(|e| anyhow!("{e}"))?;
    // Parsed first, so a bad template fails before anything is looked up.
    if let Some(f) = &a.format {
        Template::parse(f).map_err(|e| anyhow!(e))?;
    }
    let wants = |k: &str| kind.is_empty() || kind == k;
    let mut found = Vec::new();
    let mut code = 0;
    // Docker's order when no type is given: container, image, network, volume.
    for n in &a.names {
        if wants("container") {
            if let Ok(c) = rt.find(n) {
                let mut v = super::container::container_inspect(&rt, &c);
                if a.size {
                    let (rw, rootfs) = rt.container_sizes(&c);
                    v["SizeRw"] = json!(rw);
                    v["SizeRootFs"] = json!(rootfs);
                }
                found.push(v);
                continue;
            }
        }
        if wants("image") {
            match store.lookup(n) {
                Ok(img) => {
                    found.push(inspect::image_inspect(&store, &img));
                    continue;
                }
                Err(e)
                    if berth_error_kind::HasKind::kind(&e)
                        == berth_error_kind::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        if wants("network") {
            if let Some(v) = super::network::network_inspect(&rt, n)? {
                found.push(v);
                continue;
            }
        }
        if wants("volume") {
            if let Some(v) = vols.inspect(n).map_err(|e| anyhow!("{e}"))? {
                found.push(v);
                continue;
            }
        }
        let what = match kind {
            "" => "object",
            k => k,
        };
        eprintln!("Error: No such {what}: {n}");
        code = 1;
    }
    crate::output::print_inspect(a.format.as_deref(), found)?;
    Ok(code)
}

#[derive(Args)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short, long)]
    all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
    /// Provide filter values
    #[arg(long)]
    filter: Vec<String>,
}

pub fn prune(root: &Path, a: PruneArgs) -> Result<u8> {
    if !a.force {
        let warning = if a.all {
            "WARNING! This will remove all images without at least one container associated to them."
        } else {
            "WARNING! This will remove all dangling images."
        };
        if !crate::output::confirm(warning)? {
            return Ok(0);
        }
    }
    let rt = berth_runtime::Runtime::open(root).map_err(|e| anyhow!("{e}"))?;
    let (events, reclaimed) = rt
        .prune_images(a.all, &a.filter)
        .map_err(|e| anyhow!("{e}"))?;
    if !events.is_empty() {
        println!("Deleted Images:");
        print_events(&events, true);
        println!();
    }
    println!("Total reclaimed space: {}", human_size(reclaimed));
    Ok(0)
}

#[derive(Args)]
pub struct DfArgs {
    /// Show detailed information on space usage
    #[arg(short, long)]
    verbose: bool,
    /// Format output using a custom template
    #[arg(long)]
    format: Option<String>,
}

pub fn system_df(root: &Path, a: DfArgs) -> Result<u8> {
    let rt = berth_runtime::Runtime::open(root).map_err(|e| anyhow!("{e}"))?;
    let du = rt.disk_usage().map_err(|e| anyhow!("{e}"))?;
    // Docker's form: "1.2GB (75%)", or just "0B" when there is nothing.
    let reclaim = |part: u64, whole: u64| match (part * 100).checked_div(whole) {
        None => human_size(part),
        Some(pct) => format!("{} ({pct}%)", human_size(part)),
    };
    let row = |kind: &str, s: berth_runtime::disk_usage::UsageSummary, percent: bool| {
        json!({"Type": kind, "TotalCount": s.total.to_string(), "Active": s.active.to_string(),
               "Size": human_size(s.size),
               "Reclaimable": if percent { reclaim(s.reclaimable, s.size) } else { human_size(s.reclaimable) }})
    };
    let rows = vec![
        row("Images", du.images_summary(), true),
        row("Containers", du.containers_summary(), true),
        row("Local Volumes", du.volumes_summary(), true),
        row("Build Cache", du.build_cache_summary(), false),
    ];
    if a.verbose {
        let mut text = String::from(
            "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS\n",
        );
        for u in &du.images {
            let i = &u.image;
            let names: Vec<String> = if i.tags.is_empty() {
                vec!["<none>:<none>".into()]
            } else {
                i.tags.iter().map(|t| familiar(t)).collect()
            };
            for n in names {
                let (repo, tag) = n.rsplit_once(':').unwrap_or((&n, ""));
                text.push_str(&format!(
                    "{repo}\t{tag}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                    i.id().short(),
                    human_since(i.config.created.as_deref()),
                    human_size(u.size),
                    human_size(u.shared_size),
                    human_size(u.size - u.shared_size),
                    u.containers,
                ));
            }
        }
        println!("Images space usage:\n");
        print!("{}", tabulate(&text));

        let mut text = String::from(
            "CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES\n",
        );
        for u in &du.containers {
            let c = &u.container;
            let local_volumes = c
                .config
                .mounts
                .iter()
                .filter(|m| m.kind == "volume")
                .count();
            text.push_str(&format!(
                "{}\t{}\t{}\t{local_volumes}\t{}\t{}\t{}\t{}\n",
                &c.id[..12.min(c.id.len())],
                c.image,
                super::container::command_text(c, false),
                human_size(u.size_rw),
                human_since(Some(&c.created)),
                rt.status_text(c),
                c.name,
            ));
        }
        println!("\nContainers space usage:\n");
        print!("{}", tabulate(&text));

        let mut text = String::from("VOLUME NAME\tLINKS\tSIZE\n");
        for v in &du.volumes {
            text.push_str(&format!(
                "{}\t{}\t{}\n",
                v.name,
                v.ref_count,
                human_size(v.size)
            ));
        }
        println!("\nLocal Volumes space usage:\n");
        print!("{}", tabulate(&text));

        let mut text =
            String::from("CACHE ID\tCACHE TYPE\tSIZE\tCREATED\tLAST USED\tUSAGE\tSHARED\n");
        for r in &du.build_cache {
            text.push_str(&format!(
                "{}\t{}\t{}\t{}\t\t0\t{}\n",
                &r.id[..12.min(r.id.len())],
                r.kind,
                human_size(r.size),
                human_since(r.created.as_deref()),
                r.shared,
            ));
        }
        println!("\nBuild cache usage: {}\n", human_size(du.build_cache_size));
        print!("{}", tabulate(&text));
        return Ok(0);
    }
    if a.format.as_deref() == Some("json") {
        for r in &rows {
            println!("{}", go_json(r));
        }
        return Ok(0);
    }
    print_table(
        a.format.as_deref(),
        "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
        &[
            ("Type", "TYPE"),
            ("TotalCount", "TOTAL"),
            ("Active", "ACTIVE"),
            ("Size", "SIZE"),
            ("Reclaimable", "RECLAIMABLE"),
        ],
        &rows,
    )
}
