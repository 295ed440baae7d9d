//! `berth build`: builds an image with `berth_build`, or with `--check` parses and checks the
//! Dockerfile (and its .dockerignore) without building.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use berth_dockerfile::check::{check, Finding, Severity};
use clap::Args;

use crate::build_progress::{BuildProgress, ProgressMode};

#[derive(Args)]
pub struct BuildArgs {
    /// Check the Dockerfile for problems without building
    #[arg(long)]
    check: bool,
    /// Name of the Dockerfile (default: PATH/Dockerfile)
    #[arg(short, long)]
    file: Option<PathBuf>,
    /// Name and optionally a tag in the "name:tag" format
    #[arg(short, long)]
    tag: Vec<String>,
    /// Set build-time variables
    #[arg(long = "build-arg")]
    build_arg: Vec<String>,
    /// SSH agent socket to expose to the build (format: default|<id>[=<socket>])
    #[arg(long)]
    ssh: Vec<String>,
    /// Size of /dev/shm for RUN steps
    #[arg(long)]
    shm_size: Option<String>,
    /// External cache sources (e.g., "user/app:cache", "type=local,src=path/to/dir")
    #[arg(long)]
    cache_from: Vec<String>,
    /// Cache export destinations (e.g., "type=registry,ref=user/app:cache",
    /// "type=local,dest=path/to/dir")
    #[arg(long)]
    cache_to: Vec<String>,
    /// Set the target build stage to build
    #[arg(long)]
    target: Option<String>,
    /// Do not use cache when building the image
    #[arg(long)]
    no_cache: bool,
    /// Always attempt to pull all referenced images
    #[arg(long)]
    pull: bool,
    /// Set target platform for build
    #[arg(long)]
    platform: Option<String>,
    /// Set the networking mode for the RUN instructions during build
    #[arg(long)]
    network: Option<String>,
    /// Add a custom host-to-IP mapping (host:ip) for the RUN instructions
    #[arg(long)]
    add_host: Vec<String>,
    /// Set metadata for an image
    #[arg(long)]
    label: Vec<String>,
    /// Suppress the build output and print image ID on success
    #[arg(short, long)]
    quiet: bool,
    /// Write the image ID to the file
    #[arg(long)]
    iidfile: Option<PathBuf>,
    /// Secret to expose to the build (format: "id=mysecret[,src=/local/secret]" or
    /// "id=mysecret,env=VAR")
    #[arg(long)]
    secret: Vec<String>,
    /// Output destination (format: "type=local,dest=path"; also tar, docker, oci, image)
    #[arg(short, long)]
    output: Vec<String>,
    /// Shorthand for "--output=type=image,push=true"
    #[arg(long)]
    push: bool,
    /// Shorthand for "--output=type=docker" (the image is always in berth's store)
    #[arg(long)]
    load: bool,
    /// Set type of progress output (auto, plain, tty, quiet, rawjson, classic)
    #[arg(long)]
    progress: Option<String>,
    /// Remove intermediate containers after a successful build (always, as BuildKit)
    #[arg(long, default_value = "true", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", action = clap::ArgAction::Set, hide = true,
          overrides_with = "rm")]
    rm: bool,
    /// Always remove intermediate containers (always, as BuildKit)
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", action = clap::ArgAction::Set, hide = true,
          overrides_with = "force_rm")]
    force_rm: bool,
    /// Build context: a directory, a git URL (https://host/repo.git#REF:SUBDIR), or - for a
    /// context tar or a Dockerfile on standard input
    context: PathBuf,
}

/// Moves this process into a mount namespace of its own whose mounts do not propagate back to
/// the host's (slave): the scratch roots and RUN root filesystems a build mounts then vanish
/// with the process, even when it is killed; containers it starts are created from this
/// namespace and see them. Done first, while the process has one thread. Without the
/// privilege the build still works, with its mounts in the host's namespace (removed by the
/// next berth command if the build is killed).
fn private_mounts() {
    // SAFETY: plain syscalls with constant arguments and a NUL-terminated path.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) == 0 {
            libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_SLAVE,
                std::ptr::null(),
            );
        }
    }
}

/// What the builder asks of the command line: base images (pulled as `run` pulls them) and
/// somewhere to show the build (`--progress`).
struct CliHost<'a> {
    root: &'a Path,
    progress: &'a BuildProgress,
}

impl berth_build::BuildHost for CliHost<'_> {
    fn base_image(
        &self,
        name: &str,
        platform: Option<&str>,
        pull: bool,
    ) -> std::result::Result<berth_image::Image, String> {
        let store = berth_image::Store::open(self.root).map_err(|e| e.to_string())?;
        if !pull {
            if let Ok(img) = store.lookup(name) {
                return Ok(img);
            }
        }
        // Pull progress only around the classic text; BuildKit's displays show the FROM step.
        let quiet = self.progress.mode() != ProgressMode::Classic;
        super::registry::pull_one(self.root, name, platform.map(str::to_string), quiet)
            .map_err(|e| format!("failed to resolve source metadata for {name}: {e}"))?;
        store.lookup(name).map_err(|e| e.to_string())
    }

    fn event(&self, e: &berth_build::BuildEvent) {
        self.progress.event(e);
    }

    fn live_events(&self) -> bool {
        self.progress.live()
    }

    fn registry_cache_source(
        &self,
        reference: &str,
    ) -> Option<std::result::Result<Box<dyn berth_image::build_cache_exchange::CacheSource>, String>>
    {
        Some(
            berth_registry::RegistryConfig::load()
                .and_then(|c| berth_registry::build_cache::RegistryCache::for_import(&c, reference))
                .map(|c| Box::new(c) as Box<dyn berth_image::build_cache_exchange::CacheSource>)
                .map_err(|e| e.to_string()),
        )
    }

    fn registry_cache_sink(
        &self,
        reference: &str,
    ) -> Option<std::result::Result<Box<dyn berth_image::build_cache_exchange::CacheSink>, String>>
    {
        Some(
            berth_registry::RegistryConfig::load()
                .and_then(|c| berth_registry::build_cache::RegistryCache::for_export(&c, reference))
                .map(|c| Box::new(c) as Box<dyn berth_image::build_cache_exchange::CacheSink>)
                .map_err(|e| e.to_string()),
        )
    }

    /// Signals we get while a RUN step runs go to its process, as they did to a container
    /// run in the foreground.
    fn run_signals(&self) -> Option<berth_build::RunSignals> {
        let (io, terminal) = crate::terminal::client_io(crate::terminal::ClientOptions {
            tty: false,
            stdin: false,
            sig_proxy: true,
        })
        .ok()?;
        Some((io.signals?, Box::new(terminal)))
    }

    fn download(&self, url: &str, dest: &Path) -> std::result::Result<Option<i64>, String> {
        let mut f =
            std::fs::File::create(dest).map_err(|e| format!("create {}: {e}", dest.display()))?;
        let got = berth_registry::download::download(url, &mut f).map_err(|e| e.to_string())?;
        Ok(got.last_modified)
    }
}

/// `berth build`: the build in a mount namespace of its own (see `private_mounts`).
pub fn build(root: &Path, a: BuildArgs) -> Result<u8> {
    build_with(root, a, true)
}

/// A build inside a process that goes on to start containers (`compose up --build`): its
/// mount namespace stays the host's, so the containers' root filesystems are seen by every
/// later `berth exec`; the build removes its own mounts as it goes.
pub fn build_in_host_namespace(root: &Path, a: BuildArgs) -> Result<u8> {
    build_with(root, a, false)
}

fn build_with(root: &Path, a: BuildArgs, own_namespace: bool) -> Result<u8> {
    let git_context = a
        .context
        .to_str()
        .and_then(berth_build::git_source::GitSource::parse);
    if a.context.as_os_str() != "-" && !a.context.is_dir() && git_context.is_none() {
        if a.context.exists() {
            bail!(
                "unable to prepare context: context must be a directory: {}",
                a.context.display()
            );
        }
        bail!(
            "unable to prepare context: path {:?} not found",
            a.context.display().to_string()
        );
    }
    if a.check {
        return check_only(a);
    }
    if own_namespace {
        private_mounts();
    }
    let mode = ProgressMode::resolve(a.progress.as_deref(), a.quiet)?;
    let mut outputs = Vec::new();
    for o in &a.output {
        outputs.push(
            berth_build::build_output::BuildOutput::parse(o).map_err(|e| anyhow::anyhow!(e))?,
        );
    }
    if a.push {
        outputs.push(berth_build::build_output::BuildOutput::Image { push: true });
    }
    let quiet = mode == ProgressMode::Quiet;
    let mut tags = Vec::new();
    for t in &a.tag {
        tags.push(
            berth_image::Reference::parse_tagged_default(t).map_err(|e| {
                anyhow::anyhow!("invalid argument {t:?} for \"-t, --tag\" flag: {e}")
            })?,
        );
    }
    for l in &a.label {
        if l.is_empty() || l.starts_with('=') {
            bail!("invalid argument {l:?} for \"--label\" flag: expected KEY=VALUE");
        }
    }
    let pushes = outputs.contains(&berth_build::build_output::BuildOutput::Image { push: true });
    if pushes && tags.is_empty() {
        bail!("--push needs a name for the image (-t NAME)");
    }
    let input = Input::resolve(root, &a)?;
    // How the build history names the context.
    let context_name = if a.context.as_os_str() == "-" {
        "(standard input)".to_string()
    } else {
        std::fs::canonicalize(&a.context)
            .unwrap_or_else(|_| a.context.clone())
            .display()
            .to_string()
    };
    // Agents started for key files live until the build ends (`ssh` is dropped after it).
    let ssh = berth_build::ssh_forwarding::parse_ssh_options(
        &a.ssh,
        std::env::var("SSH_AUTH_SOCK").ok().as_deref(),
    )
    .map_err(|e| anyhow::anyhow!(e))?;
    let opts = berth_build::BuildOptions {
        context: input.context.clone(),
        dockerfile_name: input.name.clone(),
        dockerfile: input.dockerfile.clone(),
        tags,
        build_args: a.build_arg.clone(),
        target: a.target.clone(),
        no_cache: a.no_cache,
        pull: a.pull,
        platform: a.platform.clone(),
        network: a.network.clone(),
        extra_hosts: a.add_host.clone(),
        labels: a.label.clone(),
        quiet,
        secrets: a.secret.clone(),
        ssh: ssh.sockets.clone(),
        shm_size: a
            .shm_size
            .as_deref()
            .map(|v| super::run_flags::parse_size("--shm-size", v).map(|n| n as u64))
            .transpose()?,
        cache_from: a.cache_from.clone(),
        cache_to: a
            .cache_to
            .iter()
            .map(|v| berth_build::build_cache_transfer::CacheExport::parse(v))
            .collect::<std::result::Result<_, String>>()
            .map_err(|e| anyhow::anyhow!(e))?,
        // berth's setting for BuildKit's GC policy (Docker's `builder.gc.defaultKeepStorage`).
        keep_storage: match std::env::var("BERTH_BUILD_KEEP_STORAGE") {
            Ok(v) => Some(
                super::run_flags::parse_size("BERTH_BUILD_KEEP_STORAGE", &v).map(|n| n as u64)?,
            ),
            Err(_) => None,
        },
    };
    let rt = berth_runtime::Runtime::open(root)?;
    let progress = BuildProgress::new(mode);
    let host = CliHost {
        root,
        progress: &progress,
    };
    let built = berth_build::build_history::build_recorded(&rt, &opts, &host, &context_name);
    progress.finish(built.as_ref().err().map(|e| e.to_string()).as_deref());
    let img = match built {
        Ok(img) => img,
        Err(e) => {
            // BuildKit shows where a Dockerfile is wrong before the message.
            if let berth_build::Error::Dockerfile { excerpt, .. } = &e {
                eprint!("{excerpt}");
            }
            return Err(e.into());
        }
    };
    for o in &outputs {
        write_output(root, &img, &opts.tags, o)?;
    }
    if let Some(p) = &a.iidfile {
        std::fs::write(p, img.id().to_string())
            .with_context(|| format!("failed to write the image ID file {}", p.display()))?;
    }
    if quiet {
        println!("{}", img.id());
    }
    Ok(0)
}

#[derive(clap::Subcommand)]
pub enum BuilderCommand {
    /// Remove build cache
    Prune(BuilderPruneArgs),
}

#[derive(Args)]
pub struct BuilderPruneArgs {
    /// Remove all unused build cache, not just dangling ones (berth keeps no other kind)
    #[arg(short, long)]
    all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
    /// Provide filter values (e.g. "until=24h")
    #[arg(long)]
    filter: Vec<String>,
    /// Amount of disk space to keep for cache
    #[arg(long)]
    keep_storage: Option<String>,
}

/// `builder prune`: forgets the build cache (or what the filters and `--keep-storage` leave
/// out) and frees what only it kept.
pub fn prune(root: &Path, a: BuilderPruneArgs) -> Result<u8> {
    let keep = a
        .keep_storage
        .as_deref()
        .map(|v| super::run_flags::parse_size("--keep-storage", v).map(|n| n as u64))
        .transpose()?;
    let o = berth_build::prune::PruneOptions::from_filters(&a.filter, keep)
        .map_err(|m| anyhow::anyhow!(m))?;
    if !a.force && !crate::output::confirm("WARNING! This will remove all dangling build cache.")? {
        return Ok(0);
    }
    let freed = berth_build::prune::prune_build_cache_with(root, &o)?;
    println!(
        "Total reclaimed space: {}",
        crate::output::human_size(freed)
    );
    Ok(0)
}

/// Where the context and Dockerfile are, after reading standard input when it holds them
/// (`build -`: a tar of the context, or just a Dockerfile; `-f -`: the Dockerfile).
struct Input {
    context: PathBuf,
    dockerfile: PathBuf,
    /// How messages name the Dockerfile.
    name: String,
    /// What came on stdin; removed when the build ends.
    _streamed: Option<berth_build::streamed_context::StreamedContext>,
}

impl Input {
    fn resolve(root: &Path, a: &BuildArgs) -> Result<Input> {
        use berth_build::streamed_context::StreamedContext;
        let from_stdin = a.context.as_os_str() == "-";
        let file_from_stdin = a.file.as_deref() == Some(Path::new("-"));
        if from_stdin && file_from_stdin {
            bail!("invalid argument: can't use stdin for both build context and dockerfile");
        }
        let name = match &a.file {
            Some(f) if !file_from_stdin => f.display().to_string(),
            _ => "Dockerfile".to_string(),
        };
        let git = a
            .context
            .to_str()
            .and_then(berth_build::git_source::GitSource::parse)
            .transpose()
            .map_err(|m| anyhow::anyhow!("unable to prepare context: {m}"))?;
        if let Some(git) = git.filter(|_| !file_from_stdin) {
            // The repository is the context; -f names a file in it.
            let store = berth_image::Store::open(root)?;
            let s = StreamedContext::from_git(&store, &git)?;
            return Ok(Input {
                context: s.dir.clone(),
                dockerfile: s
                    .dir
                    .join(a.file.clone().unwrap_or_else(|| "Dockerfile".into())),
                name,
                _streamed: Some(s),
            });
        }
        if !from_stdin && !file_from_stdin {
            let dockerfile = a
                .file
                .clone()
                .unwrap_or_else(|| a.context.join("Dockerfile"));
            return Ok(Input {
                context: a.context.clone(),
                dockerfile,
                name,
                _streamed: None,
            });
        }
        let store = berth_image::Store::open(root)?;
        if file_from_stdin {
            let s = StreamedContext::receive_dockerfile(&store, std::io::stdin().lock())?;
            return Ok(Input {
                context: a.context.clone(),
                dockerfile: s.dockerfile.clone().unwrap_or_default(),
                name,
                _streamed: Some(s),
            });
        }
        // `build -`: a tar (plain or compressed) is the context; anything else the Dockerfile.
        let s = StreamedContext::receive(&store, std::io::stdin().lock(), "standard input")?;
        let dockerfile = match &s.dockerfile {
            Some(d) => d.clone(),
            None => s
                .dir
                .join(a.file.clone().unwrap_or_else(|| "Dockerfile".into())),
        };
        Ok(Input {
            context: s.dir.clone(),
            dockerfile,
            name,
            _streamed: Some(s),
        })
    }
}

fn check_only(a: BuildArgs) -> Result<u8> {
    let file = a
        .file
        .clone()
        .unwrap_or_else(|| a.context.join("Dockerfile"));
    let shown = a
        .file
        .as_ref()
        .map(|f| f.display().to_string())
        .unwrap_or_else(|| "Dockerfile".into());
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("failed to read Dockerfile {}", file.display()))?;
    let mut findings = check(&text);
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    if let Some(e) = check_ignore_file(&a.context, &file) {
        out.push_str(&format!("{e}\n"));
        findings.push(Finding {
            severity: Severity::Error,
            rule: "DockerIgnore",
            line: 0,
            end_line: 0,
            column: 0,
            message: String::new(),
        });
    }
    for f in findings.iter().filter(|f| f.line > 0) {
        match f.severity {
            Severity::Error => out.push_str(&format!("{shown}:{}: {}\n", f.line, f.message)),
            Severity::Warning => out.push_str(&format!(
                "{shown}:{}: warning: {} [{}]\n",
                f.line, f.message, f.rule
            )),
        }
        for n in f.line..=f.end_line.min(f.line + 4) {
            if let Some(l) = lines.get(n - 1) {
                out.push_str(&format!("{n:>5} | {l}\n"));
                // The column of the offending text, under the first line.
                if n == f.line && f.column > 0 {
                    out.push_str(&format!("      | {}^\n", " ".repeat(f.column - 1)));
                }
            }
        }
    }
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = findings.len() - errors;
    let plural = |n: usize, w: &str| {
        if n == 1 {
            format!("1 {w}")
        } else {
            format!("{n} {w}s")
        }
    };
    let summary = match (errors, warnings) {
        (0, 0) => "Check complete, no warnings found.".to_string(),
        (0, w) => format!(
            "Check complete, {} been found!",
            plural(w, "warning") + if w == 1 { " has" } else { " have" }
        ),
        (e, 0) => format!(
            "Check complete, {} been found!",
            plural(e, "error") + if e == 1 { " has" } else { " have" }
        ),
        (e, w) => format!(
            "Check complete, {} and {} have been found!",
            plural(e, "error"),
            plural(w, "warning")
        ),
    };
    print!("{out}");
    println!("{summary}");
    Ok(if errors > 0 { 1 } else { 0 })
}

/// The first error of the ignore file that applies (`NAME.dockerignore` beside the Dockerfile,
/// else `.dockerignore` in the context), read as the builder reads it.
fn check_ignore_file(context: &Path, dockerfile: &Path) -> Option<String> {
    match berth_build::context::BuildContext::open(context, dockerfile) {
        Err(e @ berth_build::Error::Parse { .. }) => Some(e.to_string()),
        _ => None,
    }
}

/// Sends the built image where `--output` (or `--push`) says.
fn write_output(
    root: &Path,
    img: &berth_image::Image,
    tags: &[berth_image::Reference],
    out: &berth_build::build_output::BuildOutput,
) -> Result<()> {
    use berth_build::build_output::{write_files_tar, write_files_to_dir, BuildOutput};
    use std::io::Write;
    let store = berth_image::Store::open(root)?;
    // A file is written beside its destination and renamed: a failure leaves no half file.
    let to_file = |dest: &Path, write: &dyn Fn(std::fs::File) -> Result<()>| -> Result<()> {
        let tmp = dest.with_file_name(format!(
            ".{}.berth-output-{}",
            dest.file_name().and_then(|n| n.to_str()).unwrap_or("out"),
            std::process::id()
        ));
        let f = std::fs::File::create(&tmp)
            .with_context(|| format!("failed to create the output file {}", dest.display()))?;
        match write(f).and_then(|_| Ok(std::fs::rename(&tmp, dest)?)) {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    };
    match out {
        BuildOutput::Local { dest } => write_files_to_dir(&store, img, dest)
            .with_context(|| format!("failed to export the files to {}", dest.display())),
        BuildOutput::Tar { dest: Some(dest) } => to_file(dest, &|f| {
            write_files_tar(&store, img, std::io::BufWriter::new(f))?.flush()?;
            Ok(())
        }),
        BuildOutput::Tar { dest: None } => {
            write_files_tar(&store, img, std::io::stdout().lock())?.flush()?;
            Ok(())
        }
        BuildOutput::Archive { dest } => {
            let names: Vec<String> = tags.iter().map(|t| t.familiar_tagged()).collect();
            let chosen = vec![(img.clone(), names)];
            match dest {
                Some(dest) => to_file(dest, &|f| {
                    berth_image::archive::save(&store, &chosen, std::io::BufWriter::new(f))?
                        .flush()?;
                    Ok(())
                }),
                None => {
                    berth_image::archive::save(&store, &chosen, std::io::stdout().lock())?
                        .flush()?;
                    Ok(())
                }
            }
        }
        BuildOutput::Image { push: false } => Ok(()),
        BuildOutput::Image { push: true } => {
            if tags.is_empty() {
                bail!("--push needs a name for the image (-t NAME)");
            }
            for t in tags {
                let pushed = super::registry::push(
                    root,
                    super::registry::PushArgs::new(t.familiar_tagged(), true),
                )?;
                if pushed != 0 {
                    bail!("failed to push {}", t.familiar_tagged());
                }
            }
            Ok(())
        }
    }
}
