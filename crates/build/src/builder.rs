//! The build driver: runs the needed stages' instructions in order, each step looked up in the
//! build cache first (keyed on the previous step's key and everything the step depends on),
//! so an unchanged step is never run again and a fully cached build gives the same image ID.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use berth_dockerfile::{Instruction, Lex};
use berth_image::build_cache_exchange::{CacheSink, CacheSource, ImportedCache, OciLayoutDir};
use berth_image::config::{host_architecture, ContainerConfig, History, ImageConfig};
use berth_image::layer::Compression;
use berth_image::{Digest, Image, Reference, Store};
use berth_runtime::Runtime;
use oci_spec::image::{Descriptor, MediaType};
use sha2::{Digest as _, Sha256};

pub use crate::build_events::{BuildEvent, OutputStream};
use crate::context::BuildContext;
use crate::copy::make_dir;
use crate::error::{Error, IoContext, Result};
use crate::scratch::ScratchRoot;
use crate::stages::{meta_arg_values, step_error, Stages};
use berth_dockerfile::instructions::{Command, HealthcheckCommand, RunSecurity};

mod config_step;
mod copy_step;
mod run_step;
mod stage_scheduler;

pub use run_step::remove_abandoned_step_containers;

/// What `berth build` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    pub context: PathBuf,
    /// The Dockerfile's path on the host.
    pub dockerfile: PathBuf,
    /// How errors name it (`Dockerfile`, or the `-f` value).
    pub dockerfile_name: String,
    pub tags: Vec<Reference>,
    /// `--build-arg KEY=VALUE` (or `KEY`: the value from berth's environment).
    pub build_args: Vec<String>,
    pub target: Option<String>,
    pub no_cache: bool,
    /// `--pull`: pull base images even when they are present.
    pub pull: bool,
    pub platform: Option<String>,
    /// `--network` for RUN steps (bridge by default, as Docker's builder).
    pub network: Option<String>,
    /// `--add-host NAME:IP` for RUN steps' /etc/hosts.
    pub extra_hosts: Vec<String>,
    /// `--label KEY=VALUE` on the final image.
    pub labels: Vec<String>,
    /// `-q`: no step output and no RUN output.
    pub quiet: bool,
    /// `--secret id=ID[,src=FILE|,env=VAR]`: what `RUN --mount=type=secret` can mount.
    pub secrets: Vec<String>,
    /// `--ssh ID=SOCKET`: the SSH agents `RUN --mount=type=ssh` may reach (see
    /// `ssh_forwarding::parse_ssh_options`).
    pub ssh: Vec<(String, PathBuf)>,
    /// `--shm-size`: /dev/shm's size in bytes for RUN steps (None: 64 MiB).
    pub shm_size: Option<u64>,
    /// `--cache-from`: `type=local,src=DIR`, `type=registry,ref=REF` or a bare name. A bare
    /// name of a local image restricts the local cache as Docker's classic builder does (a
    /// step's cached result counts only if it is part of one of these images); a bare name
    /// no local image has is a registry reference, as BuildKit takes it.
    pub cache_from: Vec<String>,
    /// `--cache-to`: where the cache of this build's steps is exported after it.
    pub cache_to: Vec<crate::build_cache_transfer::CacheExport>,
    /// The size the build cache is kept under after a build that stored something (least
    /// recently used entries go first); None: BuildKit's default (`prune::default_keep_storage`).
    pub keep_storage: Option<u64>,
}

/// Signals for a RUN step's process, and the front end's hold on their source.
pub type RunSignals = (std::sync::mpsc::Receiver<i32>, Box<dyn Send>);

/// What the builder needs from its caller. Stages build on threads of their own, so a host
/// is shared between them.
pub trait BuildHost: Sync {
    /// The image `name` names (FROM, COPY --from), pulled when missing or when `pull`.
    fn base_image(
        &self,
        name: &str,
        platform: Option<&str>,
        pull: bool,
    ) -> std::result::Result<Image, String>;
    /// What the build is doing (see `BuildEvent`): the host renders or keeps it.
    fn event(&self, e: &BuildEvent);
    /// Signals to pass on to a RUN step's process while it runs, with what keeps them
    /// coming (dropped when the step ends); None (a server): nothing is passed on.
    fn run_signals(&self) -> Option<RunSignals> {
        None
    }
    /// Whether events should come as they happen, stages interleaved (a display that tells
    /// steps apart by number), rather than one stage after another (the classic text).
    fn live_events(&self) -> bool {
        false
    }
    /// `ADD <url>`: the body of `GET url` written to the file `dest`; the server's
    /// Last-Modified as Unix seconds, if it sent one.
    fn download(
        &self,
        url: &str,
        dest: &std::path::Path,
    ) -> std::result::Result<Option<i64>, String>;
    /// A registry cache to import (`--cache-from type=registry,ref=REF`); None: this host
    /// reaches no registries.
    fn registry_cache_source(
        &self,
        _reference: &str,
    ) -> Option<std::result::Result<Box<dyn CacheSource>, String>> {
        None
    }
    /// A registry cache to export to (`--cache-to type=registry,ref=REF`).
    fn registry_cache_sink(
        &self,
        _reference: &str,
    ) -> Option<std::result::Result<Box<dyn CacheSink>, String>> {
        None
    }
}

/// ARGs every build knows without a declaration; they reach RUN but not the cache key or the
/// image (Docker's rule).
const PROXY_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// Marks a RUN step's container, so one a killed build left behind can be found and removed.
pub const BUILD_LABEL: &str = "berth.build.step";

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const DEFAULT_SHELL: [&str; 2] = ["/bin/sh", "-c"];
const HISTORY_COMMENT: &str = "buildkit.dockerfile.v0";

/// Where a step runs: the global ARG values, the stages, the other stages' results, and its
/// own.
struct Scope<'s> {
    meta: &'s [(String, String)],
    stages: &'s Stages,
    done: &'s dyn StageResults,
    stage: usize,
}

/// The final states of other stages, as a step asks for them: a stage building at the same
/// time is waited for then (BuildKit's way: a stage waits at its `COPY --from`, not before
/// its FROM).
trait StageResults: Sync {
    /// Stage `i`'s final state; None when it failed or the build stopped.
    fn stage_state(&self, i: usize) -> Option<State>;
}

/// One stage's state between steps: the image so far and what only the build knows.
#[derive(Clone)]
struct State {
    config: ImageConfig,
    layers: Vec<Descriptor>,
    /// The cache key of the step that made this state.
    key: String,
    /// The stored (unregistered) image of this state, once written.
    image: Option<Image>,
    /// ARGs in scope with their values.
    args: Vec<(String, String)>,
    /// CMD was set in this stage (ENTRYPOINT then keeps it).
    cmd_set: bool,
    /// The number of the step making this state (what its events are about).
    step: usize,
}

impl State {
    fn cc(&mut self) -> &mut ContainerConfig {
        self.config
            .config
            .get_or_insert_with(ContainerConfig::default)
    }
    fn env(&self) -> Vec<(String, String)> {
        let mut env = self.args.clone();
        for e in self
            .config
            .config
            .as_ref()
            .and_then(|c| c.env.as_ref())
            .into_iter()
            .flatten()
        {
            let (k, v) = e.split_once('=').unwrap_or((e, ""));
            env.push((k.to_string(), v.to_string()));
        }
        env
    }
    fn shell(&self) -> Vec<String> {
        self.config
            .config
            .as_ref()
            .and_then(|c| c.shell.clone())
            .unwrap_or_else(|| DEFAULT_SHELL.iter().map(|s| s.to_string()).collect())
    }
    /// The working directory (`/` until WORKDIR sets one).
    fn workdir(&self) -> String {
        self.config
            .config
            .as_ref()
            .and_then(|c| c.working_dir.clone())
            .unwrap_or_else(|| "/".into())
    }
    fn chain_ids(&self) -> Vec<Digest> {
        berth_image::layers::chain_ids(&self.config.rootfs.diff_ids)
    }
}

pub struct Builder<'a> {
    rt: &'a Runtime,
    store: Store,
    host: &'a dyn BuildHost,
    opts: &'a BuildOptions,
    file: String,
    lex: Lex,
    ctx: BuildContext,
    build_args: Vec<(String, Option<String>)>,
    used_args: Mutex<BTreeSet<String>>,
    /// The `cache_from` images found (None: no `cache_from`, every cached step counts).
    cache_sources: Option<Vec<Image>>,
    order: stage_scheduler::EventOrder,
    /// One lock per cache key being made: the same step needed by two stages at once runs
    /// once, the second waits and takes it from the cache.
    making: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    /// What this build made, by cache key.
    made: Mutex<HashMap<String, Image>>,
    /// The cache entries this build used (their last use is noted at the end).
    used: Mutex<Vec<String>>,
    /// `--cache-from` caches imported, looked up after the local cache.
    imports: Vec<ImportedCache>,
}

/// Whether `part` is `whole` up to some step: the same layers and the same history, so far.
fn is_prefix_of(part: &Image, whole: &Image) -> bool {
    let (p, w) = (&part.config, &whole.config);
    let steps = |h: &[History]| h.iter().map(|e| e.created_by.clone()).collect::<Vec<_>>();
    let (ph, wh) = (steps(&p.history), steps(&w.history));
    let (pl, wl) = (&p.rootfs.diff_ids, &w.rootfs.diff_ids);
    ph.len() <= wh.len()
        && ph[..] == wh[..ph.len()]
        && pl.len() <= wl.len()
        && pl[..] == wl[..pl.len()]
}

/// Builds the image `opts` describe and registers it under its tags.
pub fn build(rt: &Runtime, opts: &BuildOptions, host: &dyn BuildHost) -> Result<Image> {
    let text = std::fs::read_to_string(&opts.dockerfile).map_err(|source| Error::Read {
        what: "Dockerfile",
        path: opts.dockerfile.clone(),
        source,
    })?;
    let file = opts.dockerfile_name.clone();
    let df = berth_dockerfile::parse(&text).map_err(|e| Error::Dockerfile {
        excerpt: crate::error::source_excerpt(&file, &text, e.line, e.line),
        file: file.clone(),
        line: e.line,
        message: e.message.clone(),
    })?;
    // Everything that can be wrong without building fails here, before step 1.
    let stages = Stages::split(&file, &text, &df.instructions)?;
    check_supported(&file, &stages)?;
    let lint = lint(&text, &df, &file)?;
    let store = Store::open(rt.root())?;
    remove_abandoned_step_containers(rt);
    // Everything the build stores stays unreferenced until the image is registered.
    let _gc = store.gc_lock(false)?;
    let build_args = opts
        .build_args
        .iter()
        .map(|a| match a.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (a.clone(), std::env::var(a).ok()),
        })
        .collect();
    let mut b = Builder {
        rt,
        store,
        host,
        opts,
        lex: Lex::new(df.directives.escape),
        ctx: BuildContext::open(&opts.context, &opts.dockerfile)?,
        file,
        build_args,
        used_args: Default::default(),
        cache_sources: None,
        order: Default::default(),
        making: Default::default(),
        made: Default::default(),
        used: Default::default(),
        imports: Vec::new(),
    };
    b.open_cache_imports()?;
    let img = b.run(&stages)?;
    b.export_caches(&img)?;
    // The cache's last uses, then its size policy when this build stored something.
    let used = b.used.lock().map(|u| u.clone()).unwrap_or_default();
    let _ = b.store.build_cache_touch(&used);
    let stored = b.made.lock().map(|m| !m.is_empty()).unwrap_or(false);
    if stored {
        drop(_gc);
        let limit = opts
            .keep_storage
            .unwrap_or_else(|| crate::prune::default_keep_storage(rt.root()));
        // Best effort: the image is built whatever the policy manages to free.
        let _ = crate::prune::enforce_limit(rt.root(), limit);
    }
    if !lint.is_empty() {
        let n = lint.len();
        b.emit(&BuildEvent::Warning {
            text: &format!(" {n} warning{} found:", if n == 1 { "" } else { "s" }),
        });
        for l in &lint {
            b.emit(&BuildEvent::Warning {
                text: &format!(" - {l}"),
            });
        }
    }
    Ok(img)
}

/// What the Dockerfile asks that berth does not do (or does not allow), refused before the
/// first step rather than halfway through the build.
fn check_supported(file: &str, stages: &Stages) -> Result<()> {
    fn check(file: &str, inst: &Instruction, cmd: &Command) -> Result<()> {
        let refuse = |m: &str| Err(step_error(file, inst, m));
        match cmd {
            Command::Run(r) if r.security == RunSecurity::Insecure => {
                refuse("RUN --security=insecure is not allowed (berth has no insecure entitlement)")
            }
            Command::Healthcheck(HealthcheckCommand::Cmd {
                interval,
                timeout,
                start_period,
                start_interval,
                ..
            }) => {
                for (name, v) in [
                    ("interval", interval),
                    ("timeout", timeout),
                    ("start-period", start_period),
                    ("start-interval", start_interval),
                ] {
                    if let Some(v) = v {
                        if berth_image::config::parse_go_duration(v).is_none_or(|d| d < 0) {
                            return refuse(&format!(
                                "--{name}: invalid duration {v:?} (expected e.g. 30s, 1m30s)"
                            ));
                        }
                    }
                }
                Ok(())
            }
            Command::Onbuild(o) => check(file, inst, &o.command),
            _ => Ok(()),
        }
    }
    for step in stages.stages.iter().flat_map(|s| &s.body) {
        check(file, &step.instruction, &step.command)?;
    }
    Ok(())
}

/// BuildKit's build checks: warnings to show after the build (`- Rule: message (line N)`),
/// or the build refused when `# check=error=true` makes them errors.
fn lint(text: &str, df: &berth_dockerfile::Dockerfile, file: &str) -> Result<Vec<String>> {
    use berth_dockerfile::check::{check, Severity};
    let findings: Vec<_> = check(text)
        .into_iter()
        // berth's own hint that `--from` names an image, not a stage: normal in a build.
        .filter(|f| f.rule != "CopyFromStage")
        .collect();
    let strict = df.directives.check.as_deref().is_some_and(|c| {
        c.split(';')
            .any(|p| p.trim().replace(' ', "") == "error=true")
    });
    if strict && !findings.is_empty() {
        let mut rules: Vec<&str> = findings.iter().map(|f| f.rule).collect();
        rules.dedup();
        return Err(Error::Parse {
            file: file.to_string(),
            line: findings[0].line,
            message: format!("lint violation found for rules: {}", rules.join(", ")),
        });
    }
    Ok(findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .map(|f| format!("{}: {} (line {})", f.rule, f.message, f.line))
        .collect())
}

impl Builder<'_> {
    /// The lock of one thing being made (a cache key, a base image); see `making`.
    fn making_lock(&self, what: &str) -> Arc<Mutex<()>> {
        self.making
            .lock()
            .map(|mut m| m.entry(what.to_string()).or_default().clone())
            .unwrap_or_default()
    }

    /// ARGs declared: `--build-arg`s they take are not reported unused.
    fn note_used_args(&self, names: impl IntoIterator<Item = String>) {
        if let Ok(mut u) = self.used_args.lock() {
            u.extend(names);
        }
    }

    /// Tells the host, all but the steps, cache hits and result with `-q`.
    fn emit(&self, e: &BuildEvent) {
        if !self.opts.quiet || e.told_when_quiet() {
            self.order.deliver(self.host, e);
        }
    }

    fn run(&self, stages: &Stages) -> Result<Image> {
        let automatic = crate::stages::platform_args(self.opts.platform.as_deref());
        let meta = meta_arg_values(
            &self.file,
            &stages.meta_args,
            &self.build_args,
            automatic,
            &self.lex,
        )?;
        for step in &stages.meta_args {
            if let Command::Arg(decls) = &step.command {
                self.note_used_args(decls.iter().map(|(name, _)| name.clone()));
            }
        }
        let expand_meta = |s: &str| {
            self.lex
                .process_word(s, &meta)
                .unwrap_or_else(|_| s.to_string())
        };
        let target = stages.target(self.opts.target.as_deref())?;
        let needed = stages.needed(target, &expand_meta);
        let mut done = self.build_stages(stages, &needed, &meta)?;
        let mut state = done.remove(&target).ok_or_else(|| Error::Parse {
            file: self.file.clone(),
            line: 0,
            message: "target stage was not built".into(),
        })?;
        if !self.opts.labels.is_empty() {
            let labels = self.opts.labels.clone();
            let key = self.key(&state, &format!("--label {}", labels.join("\0")));
            state = self.cached_or(state, key, |_, mut s| {
                let l = s.cc().labels.get_or_insert_with(BTreeMap::new);
                for kv in &labels {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    l.insert(k.to_string(), v.to_string());
                }
                Ok(s)
            })?;
        }
        let used = self.used_args.lock().map(|u| u.clone()).unwrap_or_default();
        let unused: Vec<&str> = self
            .build_args
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| !used.contains(*k) && !PROXY_ARGS.contains(k))
            .collect();
        if !unused.is_empty() {
            self.emit(&BuildEvent::Warning {
                text: &format!(
                    "[Warning] One or more build-args [{}] were not consumed",
                    unused.join(" ")
                ),
            });
        }
        let state = self.materialize(state)?;
        let mut manifest = state
            .image
            .as_ref()
            .map(|i| i.manifest_digest.clone())
            .ok_or_else(|| Error::Parse {
                file: self.file.clone(),
                line: 0,
                message: "no image".into(),
            })?;
        if let Some(img) = state.image.as_ref().filter(|_| self.inline_cache_asked()) {
            manifest = self.with_inline_cache(img)?;
        }
        let img = self.store.add_image(&manifest, &self.opts.tags, None)?;
        self.emit(&BuildEvent::Built {
            id: &img.id().to_string(),
        });
        for t in &self.opts.tags {
            self.emit(&BuildEvent::Tagged {
                name: &t.familiar_tagged(),
            });
        }
        Ok(img)
    }

    /// The state of `FROM [--platform=…] image` (or scratch).
    fn base_state(
        &self,
        base: &str,
        platform: Option<&str>,
        inst: &Instruction,
        meta: &[(String, String)],
    ) -> Result<State> {
        if base.eq_ignore_ascii_case("scratch") {
            let config = ImageConfig {
                architecture: host_architecture().into(),
                os: "linux".into(),
                ..ImageConfig::default()
            };
            return Ok(State {
                config,
                layers: Vec::new(),
                key: hex_of(b"scratch"),
                image: None,
                args: Vec::new(),
                cmd_set: false,
                step: 0,
            });
        }
        let platform = match platform {
            Some(p) => Some(
                self.lex
                    .process_word(p, &meta.to_vec())
                    .map_err(|e| step_error(&self.file, inst, &e.to_string()))?,
            ),
            None => self.opts.platform.clone(),
        };
        // Two stages on one base pull it once: the second waits, then finds it.
        let pulling = self.making_lock(&format!("base image {base} {platform:?}"));
        let _pulling = pulling.lock();
        let img = self
            .host
            .base_image(base, platform.as_deref(), self.opts.pull)
            .map_err(|m| step_error(&self.file, inst, &m))?;
        Ok(State {
            config: img.config.clone(),
            layers: img.layer_descriptors().to_vec(),
            // The image ID (its config's digest), not the manifest's: the same content
            // pulled, loaded or imported elsewhere, compressed or not, keys the same steps,
            // so a cache exported on one machine serves another.
            key: img.id().hex().to_string(),
            image: Some(img),
            args: Vec::new(),
            cmd_set: false,
            step: 0,
        })
    }

    fn key(&self, state: &State, what: &str) -> String {
        let mut h = Sha256::new();
        h.update(state.key.as_bytes());
        h.update([0]);
        h.update(what.as_bytes());
        hex::encode(h.finalize())
    }

    /// The cached result of the step with `key`, or `make` run and its result cached.
    fn cached_or(
        &self,
        state: State,
        key: String,
        make: impl FnOnce(&Self, State) -> Result<State>,
    ) -> Result<State> {
        let making = self.making_lock(&key);
        // Held while the step is looked up and made (see `making`).
        let _making = making.lock();
        if let Some((img, from_this_build)) = self.cached(&key) {
            if !from_this_build {
                if let Ok(mut u) = self.used.lock() {
                    u.push(key.clone());
                }
            }
            self.emit(&BuildEvent::Cached { step: state.step });
            return Ok(State {
                config: img.config.clone(),
                layers: img.layer_descriptors().to_vec(),
                key,
                image: Some(img),
                ..state
            });
        }
        let mut s = make(self, state)?;
        s.key = key.clone();
        s.image = None;
        let s = self.materialize(s)?;
        if let Some(img) = &s.image {
            self.store.build_cache_record(&key, &img.manifest_digest)?;
            if let Ok(mut m) = self.made.lock() {
                m.insert(key, img.clone());
            }
        }
        Ok(s)
    }

    /// The result of the step with `key` if it need not run: made by another stage of this
    /// build (even with --no-cache; `true`), else from the local cache or an imported one.
    fn cached(&self, key: &str) -> Option<(Image, bool)> {
        if let Some(img) = self.made.lock().ok().and_then(|m| m.get(key).cloned()) {
            return Some((img, true));
        }
        if self.opts.no_cache {
            return None;
        }
        self.store
            .build_cache_lookup(key)
            .filter(|img| self.cache_allows(img))
            .or_else(|| self.imported(key))
            .map(|img| (img, false))
    }

    /// Records `img` as the result of the step with `key` too.
    fn note_made(&self, key: &str, img: &Image) -> Result<()> {
        self.store.build_cache_record(key, &img.manifest_digest)?;
        if let Ok(mut m) = self.made.lock() {
            m.insert(key.to_string(), img.clone());
        }
        Ok(())
    }

    /// Reads `--cache-from`: typed caches and bare names no local image has are imported
    /// (their index only, for now); bare names of local images restrict the local cache. A
    /// cache that cannot be read is a warning, as with BuildKit: the build goes on without it.
    fn open_cache_imports(&mut self) -> Result<()> {
        use crate::build_cache_transfer::{CacheImport, CachePlace};
        let mut classic = Vec::new();
        for value in &self.opts.cache_from {
            let no_registries = || Err("this front end reaches no registries".to_string());
            let source: std::result::Result<Box<dyn CacheSource>, String> =
                match CacheImport::parse(value).map_err(Error::Option)? {
                    CacheImport::Name(n) => match self.store.lookup(&n) {
                        Ok(img) => {
                            classic.push(img);
                            continue;
                        }
                        // The classic builder (the Engine API's) ignores names it lacks.
                        Err(_) => match self.host.registry_cache_source(&n) {
                            None => continue,
                            Some(s) => s,
                        },
                    },
                    CacheImport::Place(CachePlace::Local(dir)) => OciLayoutDir::open(&dir)
                        .map(|d| Box::new(d) as Box<dyn CacheSource>)
                        .map_err(|e| e.to_string()),
                    CacheImport::Place(CachePlace::Registry(r)) => self
                        .host
                        .registry_cache_source(&r)
                        .unwrap_or_else(no_registries),
                    // `CacheImport::parse` reads no inline place: an image with an inline
                    // cache is imported by its reference.
                    CacheImport::Place(CachePlace::Inline) => continue,
                };
            match source
                .and_then(|s| ImportedCache::open(s, &self.store).map_err(|e| e.to_string()))
            {
                Ok(cache) => self.imports.push(cache),
                Err(e) => self.emit(&BuildEvent::Warning {
                    text: &format!("failed to import cache {value}: {e}"),
                }),
            }
        }
        // Only bare names of local images (the classic builder's --cache-from) restrict.
        if !classic.is_empty() || (self.imports.is_empty() && !self.opts.cache_from.is_empty()) {
            self.cache_sources = Some(classic);
        }
        Ok(())
    }

    /// The step image an imported cache has under `key`, fetched into the store and noted in
    /// the local cache. A fetch that fails is a miss (with a warning): the step runs.
    fn imported(&self, key: &str) -> Option<Image> {
        for cache in &self.imports {
            match cache.fetch(&self.store, key) {
                Ok(Some(d)) => {
                    let img = self.store.unregistered_image(&d).ok()?;
                    let _ = self.store.build_cache_record(key, &d);
                    return Some(img);
                }
                Ok(None) => {}
                Err(e) => self.emit(&BuildEvent::Warning {
                    text: &format!("failed to fetch cache from {}: {e}", cache.describe()),
                }),
            }
        }
        None
    }

    fn inline_cache_asked(&self) -> bool {
        use crate::build_cache_transfer::CachePlace;
        self.opts
            .cache_to
            .iter()
            .any(|c| c.place == CachePlace::Inline)
    }

    /// The final image with its steps' cache in its config (`--cache-to type=inline`): a new
    /// manifest over the same layers.
    fn with_inline_cache(&self, img: &Image) -> Result<Digest> {
        let entries = self.cache_entries(img, false);
        let field = berth_image::build_cache_exchange::inline_cache(&self.store, &entries)?;
        let mut config = img.config.clone();
        config.extra.insert(
            berth_image::build_cache_exchange::INLINE_FIELD.into(),
            field,
        );
        let manifest = berth_image::import::write_image(
            &self.store,
            &config,
            img.layer_descriptors().to_vec(),
        )?;
        self.emit(&BuildEvent::CacheExported {
            place: "type=inline",
            entries: steps_of(&entries),
        });
        Ok(manifest)
    }

    /// The cache entries (key, step image manifest) of this build's steps, made or reused:
    /// all of them, or only those of the final image `img`.
    fn cache_entries(&self, img: &Image, all_steps: bool) -> Vec<(String, Digest)> {
        let index = self.store.read_build_cache().entries;
        let mut keys: Vec<String> = self.used.lock().map(|u| u.clone()).unwrap_or_default();
        if let Ok(m) = self.made.lock() {
            keys.extend(m.keys().cloned());
        }
        keys.sort();
        keys.dedup();
        let mut entries = Vec::new();
        for k in &keys {
            let Some(d) = index.get(k) else { continue };
            if !all_steps {
                match self.store.unregistered_image(d) {
                    Ok(step) if is_prefix_of(&step, img) => {}
                    _ => continue,
                }
            }
            entries.push((k.clone(), d.clone()));
        }
        // In the order of the steps (fewest layers and history first).
        entries.sort_by_key(|(_, d)| {
            self.store
                .unregistered_image(d)
                .map(|i| (i.config.rootfs.diff_ids.len(), i.config.history.len()))
                .unwrap_or_default()
        });
        entries
    }

    /// Writes `--cache-to`: the cache entries of this build's steps (made or reused), of the
    /// final image's steps only unless `mode=max`.
    fn export_caches(&self, img: &Image) -> Result<()> {
        use crate::build_cache_transfer::CachePlace;
        for export in &self.opts.cache_to {
            if export.place == CachePlace::Inline {
                continue;
            }
            let entries = self.cache_entries(img, export.all_steps);
            let failed = |reason: String| Error::CacheExport {
                place: export.place.to_string(),
                reason,
            };
            let sink: Box<dyn CacheSink> = match &export.place {
                CachePlace::Local(dir) => {
                    Box::new(OciLayoutDir::create(dir).map_err(|e| failed(e.to_string()))?)
                }
                CachePlace::Registry(r) => self
                    .host
                    .registry_cache_sink(r)
                    .unwrap_or_else(|| Err("this front end reaches no registries".into()))
                    .map_err(failed)?,
                CachePlace::Inline => continue,
            };
            berth_image::build_cache_exchange::export_cache(&self.store, &entries, &*sink)
                .map_err(|e| failed(e.to_string()))?;
            self.emit(&BuildEvent::CacheExported {
                place: &export.place.to_string(),
                entries: steps_of(&entries),
            });
        }
        Ok(())
    }

    /// Whether a cached step's image may be used: always without `cache_from`, else only
    /// when one of its images starts with it (its layers and its history so far).
    fn cache_allows(&self, img: &Image) -> bool {
        let Some(sources) = &self.cache_sources else {
            return true;
        };
        sources.iter().any(|c| is_prefix_of(img, c))
    }

    /// Stores the state's config and manifest (unregistered), so containers can use it.
    fn materialize(&self, mut s: State) -> Result<State> {
        if s.image.is_none() {
            let m = berth_image::import::write_image(&self.store, &s.config, s.layers.clone())?;
            s.image = Some(self.store.unregistered_image(&m)?);
        }
        Ok(s)
    }

    fn history(s: &mut State, created_by: String, empty_layer: bool) {
        let now = berth_image::images::now_rfc3339();
        s.config.created = Some(now.clone());
        s.config.history.push(History {
            created: Some(now),
            created_by: Some(created_by),
            author: None,
            comment: Some(HISTORY_COMMENT.into()),
            empty_layer,
        });
    }

    /// A finished upper dir (of a scratch root or a RUN container) as the state's next layer.
    fn add_upper_layer(&self, s: &mut State, upper: &std::path::Path) -> Result<()> {
        let parent = s.chain_ids().last().cloned();
        let (d, size) = berth_image::commit::layer_from_finished_upper(
            &self.store,
            parent.as_ref(),
            upper,
            &[],
        )?;
        Self::add_layer(s, d, size);
        Ok(())
    }

    fn add_layer(s: &mut State, diff_id: Digest, size: u64) {
        s.config.rootfs.diff_ids.push(diff_id.clone());
        s.layers.push(Descriptor::new(
            MediaType::from(Compression::None.oci_layer_media_type()),
            size,
            &diff_id,
        ));
    }

    fn expand(&self, s: &State, inst: &Instruction, word: &str) -> Result<String> {
        self.lex
            .process_word(word, &s.env())
            .map_err(|e| step_error(&self.file, inst, &e.to_string()))
    }

    /// Carries out one instruction of stage `stage`; every error names its line.
    fn step(&self, s: State, inst: &Instruction, cmd: &Command, sc: &Scope) -> Result<State> {
        self.step_inner(s, inst, cmd, sc).map_err(|e| match e {
            Error::Parse { .. }
            | Error::Dockerfile { .. }
            | Error::Step { .. }
            | Error::RunFailed { .. } => e,
            other => step_error(&self.file, inst, &other.to_string()),
        })
    }

    fn step_inner(
        &self,
        mut s: State,
        inst: &Instruction,
        cmd: &Command,
        sc: &Scope,
    ) -> Result<State> {
        let text = inst.original.trim().to_string();
        match cmd {
            Command::Run(run) => self.run_step(s, inst, run, sc),
            Command::Copy(copy) => self.copy_step(s, inst, copy, false, sc),
            Command::Add(add) => self.copy_step(s, inst, add, true, sc),
            Command::From(_) => Err(step_error(
                &self.file,
                inst,
                "FROM starts a stage; it cannot be a step",
            )),
            Command::Arg(decls) => {
                let mut desc = String::new();
                for (name, default) in decls {
                    let name = name.clone();
                    let default = match default {
                        Some(d) => Some(self.expand(&s, inst, d)?),
                        None => None,
                    };
                    self.note_used_args([name.clone()]);
                    let given = self.build_args.iter().rev().find(|(k, _)| *k == name);
                    let value = match given {
                        Some((_, v)) => v.clone().or(default),
                        None => default.or_else(|| {
                            sc.meta
                                .iter()
                                .rev()
                                .find(|(k, _)| *k == name)
                                .map(|(_, v)| v.clone())
                        }),
                    };
                    s.args.retain(|(k, _)| *k != name);
                    if let Some(v) = value {
                        desc.push_str(&format!("{name}={v}\n"));
                        s.args.push((name, v));
                    }
                }
                // ARG leaves the image alone but what RUN sees from here on depends on it.
                let key = self.key(&s, &format!("{text}\n{desc}"));
                Ok(State { key, ..s })
            }
            Command::Workdir(dir) => {
                let dir = self.expand(&s, inst, dir)?;
                if dir.is_empty() {
                    return Err(step_error(
                        &self.file,
                        inst,
                        "WORKDIR requires exactly one argument",
                    ));
                }
                let base = s.workdir();
                let dir = clean_abs(&if dir.starts_with('/') {
                    dir
                } else {
                    format!("{base}/{dir}")
                });
                let key = self.key(&s, &format!("WORKDIR {dir}"));
                self.cached_or(s, key, |b, mut s| {
                    s.cc().working_dir = Some(dir.clone());
                    // BuildKit creates the directory: a layer only when it was missing.
                    let mut scratch = ScratchRoot::mount(&b.store, &s.chain_ids())?;
                    make_dir(scratch.root(), &dir, None)?;
                    let upper = scratch.changes()?.to_path_buf();
                    let changed = std::fs::read_dir(&upper)
                        .ctx("read", &upper)?
                        .next()
                        .is_some();
                    if changed {
                        b.add_upper_layer(&mut s, &upper)?;
                    }
                    Self::history(&mut s, format!("WORKDIR {dir}"), !changed);
                    Ok(s)
                })
            }
            _ => {
                let s2 = s.clone();
                let key = self.key(&s, &format!("{text}\n{}", self.meta_desc(&s2, inst)?));
                let (inst, cmd) = (inst.clone(), cmd.clone());
                self.cached_or(s, key, move |b, mut s| {
                    b.config_step(&mut s, &inst, &cmd)?;
                    Self::history(&mut s, inst.original.trim().to_string(), true);
                    Ok(s)
                })
            }
        }
    }

    /// The state a `--from` names: an earlier stage, or an image (pulled if missing).
    fn source_state(&self, from: &str, inst: &Instruction, sc: &Scope) -> Result<State> {
        let bad = |m: &str| step_error(&self.file, inst, m);
        let f = self
            .lex
            .process_word(from, &sc.meta.to_vec())
            .map_err(|e| bad(&e.to_string()))?;
        match sc.stages.find_before(&f, sc.stage) {
            Some(i) => sc
                .done
                .stage_state(i)
                .ok_or_else(|| bad(&format!("from={f}: that stage did not build"))),
            None if sc.stages.find(&f).is_some() => Err(bad(&format!(
                "from={f}: a stage can only use stages defined before it"
            ))),
            None => self.base_state(&f, None, inst, sc.meta),
        }
    }
}

/// How many steps cache entries are of: a step may have two keys (`COPY --from`'s).
fn steps_of(entries: &[(String, Digest)]) -> usize {
    entries
        .iter()
        .map(|(_, d)| d)
        .collect::<std::collections::BTreeSet<_>>()
        .len()
}

/// A scratch directory in the store, removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = berth_image::store::remove_tree(&self.0);
    }
}

fn tempfile_dir(store: &Store) -> Result<TempDir> {
    let p = store.tmp_path("heredoc");
    std::fs::create_dir_all(&p).ctx("create directory", &p)?;
    Ok(TempDir(p))
}

/// `/a/./b/../c/` → `/a/c`.
fn clean_abs(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

fn short(d: &Digest) -> &str {
    &d.hex()[..12]
}

fn hex_of(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_cleaned() {
        assert_eq!(clean_abs("/app/./x/../y/"), "/app/y");
        assert_eq!(clean_abs("/../.."), "/");
    }
}
