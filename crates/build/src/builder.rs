//! The build driver: runs the needed stages' instructions in order, each step looked up in the
//! build cache first (keyed on the previous step's key and everything the step depends on),
//! so an unchanged step is never run again and a fully cached build gives the same image ID.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use berth_dockerfile::{Instruction, Lex};
use berth_image::config::{
    host_architecture, ContainerConfig, Empty, Healthcheck, History, ImageConfig,
};
use berth_image::layer::Compression;
use berth_image::{Digest, Image, Reference, Store};
use berth_runtime::lifecycle::Attach;
use berth_runtime::{RunOptions, Runtime};
use oci_spec::image::{Descriptor, MediaType};
use sha2::{Digest as _, Sha256};

use crate::context::BuildContext;
use crate::copy::{copy_source, make_dir, CopyMode, Source};
use crate::error::{Error, IoContext, Result};
use crate::run_mounts::{self, RunMount};
use crate::scratch::ScratchRoot;
use crate::stages::{meta_arg_values, step_error, Stages};
use berth_runtime::volumes::MountSpec;

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
    /// `--label KEY=VALUE` on the final image.
    pub labels: Vec<String>,
    /// `-q`: no step output and no RUN output.
    pub quiet: bool,
    /// `--secret id=ID[,src=FILE|,env=VAR]`: what `RUN --mount=type=secret` can mount.
    pub secrets: Vec<String>,
}

/// What the builder needs from its caller.
pub trait BuildHost {
    /// The image `name` names (FROM, COPY --from), pulled when missing or when `pull`.
    fn base_image(
        &self,
        name: &str,
        platform: Option<&str>,
        pull: bool,
    ) -> std::result::Result<Image, String>;
    /// A line of build output.
    fn say(&self, line: &str);
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
    used_args: std::collections::BTreeSet<String>,
    step: usize,
    total: usize,
}

/// Builds the image `opts` describe and registers it under its tags.
pub fn build(rt: &Runtime, opts: &BuildOptions, host: &dyn BuildHost) -> Result<Image> {
    let text = std::fs::read_to_string(&opts.dockerfile).map_err(|source| Error::Read {
        what: "Dockerfile",
        path: opts.dockerfile.clone(),
        source,
    })?;
    let file = opts.dockerfile_name.clone();
    let df = berth_dockerfile::parse(&text).map_err(|e| Error::Parse {
        file: file.clone(),
        line: e.line,
        message: e.message.clone(),
    })?;
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
        step: 0,
        total: 0,
    };
    b.run(&df.instructions)
}

impl Builder<'_> {
    fn say(&self, line: &str) {
        if !self.opts.quiet {
            self.host.say(line);
        }
    }

    fn run(&mut self, instructions: &[Instruction]) -> Result<Image> {
        let stages = Stages::split(&self.file, instructions)?;
        let meta = meta_arg_values(&self.file, &stages.meta_args, &self.build_args, &self.lex)?;
        for inst in &stages.meta_args {
            for w in &inst.args {
                self.used_args
                    .insert(w.split_once('=').map(|p| p.0).unwrap_or(w).to_string());
            }
        }
        let expand_meta = |s: &str| {
            self.lex
                .process_word(s, &meta)
                .unwrap_or_else(|_| s.to_string())
        };
        let target = stages.target(self.opts.target.as_deref())?;
        let needed = stages.needed(target, &expand_meta);
        self.total = needed
            .iter()
            .map(|i| 1 + stages.stages[*i].body.len())
            .sum();
        let mut done: BTreeMap<usize, State> = BTreeMap::new();
        for &i in &needed {
            let st = &stages.stages[i];
            let base = self
                .lex
                .process_word(&st.base, &meta)
                .map_err(|e| step_error(&self.file, &st.from, &e.to_string()))?;
            self.step += 1;
            self.say(&format!(
                "Step {}/{} : {}",
                self.step,
                self.total,
                st.from.original.trim()
            ));
            let mut state = match stages.find_before(&base, i) {
                Some(d) => {
                    let mut s = done
                        .get(&d)
                        .cloned()
                        .ok_or_else(|| step_error(&self.file, &st.from, "stage not built"))?;
                    s.args.clear();
                    s.cmd_set = false;
                    s
                }
                None => self.base_state(&base, &st.from, &meta)?,
            };
            if let Some(img) = &state.image {
                self.say(&format!(" ---> {}", short(img.id())));
            }
            // BuildKit gives a stage whose base sets no PATH the default one (so that
            // `ENV PATH=/x:$PATH` keeps the system directories).
            let env = state.cc().env.get_or_insert_with(Vec::new);
            if !env.iter().any(|e| e.starts_with("PATH=")) {
                env.insert(0, format!("PATH={DEFAULT_PATH}"));
                state.image = None;
                state.key = self.key(&state, "default PATH");
            }
            // The base image's ONBUILD triggers run first, then are dropped.
            let triggers = state
                .config
                .config
                .as_mut()
                .and_then(|c| c.on_build.take())
                .unwrap_or_default();
            for t in triggers {
                let parsed = berth_dockerfile::parse(&t).map_err(|e| {
                    step_error(
                        &self.file,
                        &st.from,
                        &format!("ONBUILD trigger {t:?} of the base image: {}", e.message),
                    )
                })?;
                for inst in parsed.instructions {
                    self.say(&format!(
                        "# Executing ONBUILD trigger: {}",
                        inst.original.trim()
                    ));
                    state = self.step(state, &inst, &meta, &stages, &done, i)?;
                }
            }
            for inst in &st.body {
                self.step += 1;
                self.say(&format!(
                    "Step {}/{} : {}",
                    self.step,
                    self.total,
                    inst.original.trim()
                ));
                state = self.step(state, inst, &meta, &stages, &done, i)?;
                if let Some(img) = &state.image {
                    self.say(&format!(" ---> {}", short(img.id())));
                }
            }
            done.insert(i, state);
        }
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
        let unused: Vec<&str> = self
            .build_args
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| !self.used_args.contains(*k) && !PROXY_ARGS.contains(k))
            .collect();
        if !unused.is_empty() {
            self.say(&format!(
                "[Warning] One or more build-args [{}] were not consumed",
                unused.join(" ")
            ));
        }
        let state = self.materialize(state)?;
        let manifest = state
            .image
            .as_ref()
            .map(|i| i.manifest_digest.clone())
            .ok_or_else(|| Error::Parse {
                file: self.file.clone(),
                line: 0,
                message: "no image".into(),
            })?;
        let img = self.store.add_image(&manifest, &self.opts.tags, None)?;
        self.say(&format!("Successfully built {}", short(img.id())));
        for t in &self.opts.tags {
            self.say(&format!("Successfully tagged {}", t.familiar_tagged()));
        }
        Ok(img)
    }

    /// The state of `FROM image` (or scratch).
    fn base_state(
        &self,
        base: &str,
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
            });
        }
        let platform = match inst.flag("platform") {
            Some(p) => Some(
                self.lex
                    .process_word(p, &meta.to_vec())
                    .map_err(|e| step_error(&self.file, inst, &e.to_string()))?,
            ),
            None => self.opts.platform.clone(),
        };
        let img = self
            .host
            .base_image(base, platform.as_deref(), self.opts.pull)
            .map_err(|m| step_error(&self.file, inst, &m))?;
        Ok(State {
            config: img.config.clone(),
            layers: img.layer_descriptors().to_vec(),
            key: img.manifest_digest.hex().to_string(),
            image: Some(img),
            args: Vec::new(),
            cmd_set: false,
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
        &mut self,
        state: State,
        key: String,
        make: impl FnOnce(&mut Self, State) -> Result<State>,
    ) -> Result<State> {
        if !self.opts.no_cache {
            if let Some(img) = self.store.build_cache_lookup(&key) {
                self.say(" ---> Using cache");
                return Ok(State {
                    config: img.config.clone(),
                    layers: img.layer_descriptors().to_vec(),
                    key,
                    image: Some(img),
                    ..state
                });
            }
        }
        let mut s = make(self, state)?;
        s.key = key.clone();
        s.image = None;
        let s = self.materialize(s)?;
        if let Some(img) = &s.image {
            self.store.build_cache_record(&key, &img.manifest_digest)?;
        }
        Ok(s)
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

    fn check_flags(&self, inst: &Instruction, allowed: &[&str]) -> Result<()> {
        for f in inst.flag_names() {
            if !allowed.contains(&f) {
                return Err(step_error(
                    &self.file,
                    inst,
                    &format!(
                        "unknown flag: --{f} (this instruction takes {})",
                        if allowed.is_empty() {
                            "no flags".to_string()
                        } else {
                            allowed
                                .iter()
                                .map(|a| format!("--{a}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        }
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Carries out one instruction of stage `stage`; every error names its line.
    fn step(
        &mut self,
        s: State,
        inst: &Instruction,
        meta: &[(String, String)],
        stages: &Stages,
        done: &BTreeMap<usize, State>,
        stage: usize,
    ) -> Result<State> {
        self.step_inner(s, inst, meta, stages, done, stage)
            .map_err(|e| match e {
                Error::Parse { .. } | Error::Step { .. } | Error::RunFailed { .. } => e,
                other => step_error(&self.file, inst, &other.to_string()),
            })
    }

    fn step_inner(
        &mut self,
        mut s: State,
        inst: &Instruction,
        meta: &[(String, String)],
        stages: &Stages,
        done: &BTreeMap<usize, State>,
        stage: usize,
    ) -> Result<State> {
        let text = inst.original.trim().to_string();
        let kw = inst.keyword.as_str();
        match kw {
            "run" => self.run_step(s, inst, stages, done, stage, meta),
            "copy" | "add" => self.copy_step(s, inst, stages, done, stage, meta),
            "arg" => {
                self.check_flags(inst, &[])?;
                let mut desc = String::new();
                for word in &inst.args {
                    let (name, default) = match word.split_once('=') {
                        Some((n, d)) => (n.to_string(), Some(self.expand(&s, inst, d)?)),
                        None => (word.clone(), None),
                    };
                    self.used_args.insert(name.clone());
                    let given = self.build_args.iter().rev().find(|(k, _)| *k == name);
                    let value = match given {
                        Some((_, v)) => v.clone().or(default),
                        None => default.or_else(|| {
                            meta.iter()
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
            "workdir" => {
                self.check_flags(inst, &[])?;
                let dir = self.expand(
                    &s,
                    inst,
                    inst.args.first().map(String::as_str).unwrap_or(""),
                )?;
                if dir.is_empty() {
                    return Err(step_error(
                        &self.file,
                        inst,
                        "WORKDIR requires exactly one argument",
                    ));
                }
                let base = s
                    .config
                    .config
                    .as_ref()
                    .and_then(|c| c.working_dir.clone())
                    .unwrap_or_else(|| "/".into());
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
                        let parent = s.chain_ids().last().cloned();
                        let (d, size) = berth_image::commit::layer_from_upper(
                            &b.store,
                            parent.as_ref(),
                            &upper,
                            &[],
                        )?;
                        Self::add_layer(&mut s, d, size);
                    }
                    Self::history(&mut s, format!("WORKDIR {dir}"), !changed);
                    Ok(s)
                })
            }
            _ => {
                let s2 = s.clone();
                let key = self.key(&s, &format!("{text}\n{}", self.meta_desc(&s2, inst)?));
                let inst = inst.clone();
                self.cached_or(s, key, move |b, mut s| {
                    b.config_step(&mut s, &inst)?;
                    Self::history(&mut s, inst.original.trim().to_string(), true);
                    Ok(s)
                })
            }
        }
    }

    /// What a config-only instruction's result depends on besides its text: the values its
    /// variables expand to.
    fn meta_desc(&self, s: &State, inst: &Instruction) -> Result<String> {
        let mut out = String::new();
        for a in &inst.args {
            out.push_str(&self.expand(s, inst, a).unwrap_or_default());
            out.push('\0');
        }
        Ok(out)
    }

    /// ENV, LABEL, CMD, ENTRYPOINT, EXPOSE, VOLUME, USER, STOPSIGNAL, SHELL, HEALTHCHECK,
    /// ONBUILD, MAINTAINER: changes to the image config.
    fn config_step(&mut self, s: &mut State, inst: &Instruction) -> Result<()> {
        let bad = |m: &str| step_error(&self.file, inst, m);
        let kw = inst.keyword.as_str();
        if kw != "healthcheck" {
            self.check_flags(inst, &[])?;
        }
        let first = || {
            inst.args
                .first()
                .cloned()
                .ok_or_else(|| bad("requires an argument"))
        };
        match kw {
            "env" | "label" => {
                let env = s.env();
                let mut pairs = Vec::new();
                for t in inst.args.chunks(3) {
                    let k = self
                        .lex
                        .process_word(&t[0], &env)
                        .map_err(|e| bad(&e.to_string()))?;
                    let v = self
                        .lex
                        .process_word(t.get(1).map(String::as_str).unwrap_or(""), &env)
                        .map_err(|e| bad(&e.to_string()))?;
                    pairs.push((k, v));
                }
                for (k, v) in pairs {
                    if kw == "env" {
                        let e = s.cc().env.get_or_insert_with(Vec::new);
                        let prefix = format!("{k}=");
                        match e.iter_mut().find(|x| x.starts_with(&prefix)) {
                            Some(x) => *x = format!("{k}={v}"),
                            None => e.push(format!("{k}={v}")),
                        }
                    } else {
                        s.cc().labels.get_or_insert_with(BTreeMap::new).insert(k, v);
                    }
                }
            }
            "cmd" | "entrypoint" => {
                let cmd = if inst.json {
                    inst.args.clone()
                } else {
                    let mut c = s.shell();
                    c.push(inst.args.join(" "));
                    c
                };
                if kw == "cmd" {
                    s.cc().cmd = Some(cmd);
                    s.cmd_set = true;
                } else {
                    s.cc().entrypoint = Some(cmd);
                    if !s.cmd_set {
                        s.cc().cmd = None;
                    }
                }
            }
            "shell" => {
                if !inst.json || inst.args.is_empty() {
                    return Err(bad("SHELL requires the arguments to be in JSON form, as [\"executable\", \"param\"]"));
                }
                s.cc().shell = Some(inst.args.clone());
            }
            "expose" => {
                let mut ports = Vec::new();
                for a in &inst.args {
                    for p in self
                        .lex
                        .process_words(a, &s.env())
                        .map_err(|e| bad(&e.to_string()))?
                    {
                        let (num, proto) = p.split_once('/').unwrap_or((&p, "tcp"));
                        let proto = proto.to_ascii_lowercase();
                        let ok = num.parse::<u16>().is_ok()
                            || num.split_once('-').is_some_and(|(a, b)| {
                                a.parse::<u16>().is_ok() && b.parse::<u16>().is_ok()
                            });
                        if !ok || !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
                            return Err(bad(&format!("invalid containerPort: {p}")));
                        }
                        ports.push(format!("{num}/{proto}"));
                    }
                }
                let e = s.cc().exposed_ports.get_or_insert_with(BTreeMap::new);
                for p in ports {
                    e.insert(p, Empty {});
                }
            }
            "volume" => {
                let mut vols = Vec::new();
                for a in &inst.args {
                    let v = self.expand(s, inst, a)?;
                    if v.is_empty() {
                        return Err(bad("VOLUME specified can not be an empty string"));
                    }
                    vols.push(v);
                }
                let e = s.cc().volumes.get_or_insert_with(BTreeMap::new);
                for v in vols {
                    e.insert(v, Empty {});
                }
            }
            "user" => {
                let u = self.expand(s, inst, &first()?)?;
                s.cc().user = Some(u);
            }
            "stopsignal" => {
                let sig = self.expand(s, inst, &first()?)?;
                s.cc().stop_signal = Some(sig);
            }
            "maintainer" => s.config.author = Some(first()?),
            "onbuild" => {
                let sub = inst
                    .sub
                    .as_ref()
                    .ok_or_else(|| bad("ONBUILD requires an instruction"))?;
                if matches!(sub.keyword.as_str(), "onbuild" | "from" | "maintainer") {
                    return Err(bad(&format!(
                        "{} isn't allowed as an ONBUILD trigger",
                        sub.keyword.to_ascii_uppercase()
                    )));
                }
                let trigger = inst
                    .original
                    .trim()
                    .get(inst.keyword_as_written.len()..)
                    .unwrap_or("")
                    .trim()
                    .to_string();
                s.cc().on_build.get_or_insert_with(Vec::new).push(trigger);
            }
            "healthcheck" => {
                self.check_flags(
                    inst,
                    &[
                        "interval",
                        "timeout",
                        "start-period",
                        "start-interval",
                        "retries",
                    ],
                )?;
                let kind = first()?.to_ascii_uppercase();
                let hc = match kind.as_str() {
                    "NONE" => Healthcheck {
                        test: Some(vec!["NONE".into()]),
                        ..Healthcheck::default()
                    },
                    "CMD" => {
                        let rest = &inst.args[1..];
                        if rest.is_empty() {
                            return Err(bad("HEALTHCHECK CMD requires a command"));
                        }
                        let test = if inst.json {
                            std::iter::once("CMD".to_string())
                                .chain(rest.iter().cloned())
                                .collect()
                        } else {
                            vec!["CMD-SHELL".to_string(), rest.join(" ")]
                        };
                        let dur = |name: &str| -> Result<Option<i64>> {
                            match inst.flag(name) {
                                None => Ok(None),
                                Some(v) => berth_image::config::parse_go_duration(v)
                                    .filter(|d| *d >= 0)
                                    .map(Some)
                                    .ok_or_else(|| bad(&format!("--{name}: invalid duration {v:?} (expected e.g. 30s, 1m30s)"))),
                            }
                        };
                        let retries = match inst.flag("retries") {
                            None => None,
                            Some(v) => Some(v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(
                                || bad(&format!("--retries: {v:?} is not a non-negative number")),
                            )?),
                        };
                        Healthcheck {
                            test: Some(test),
                            interval: dur("interval")?,
                            timeout: dur("timeout")?,
                            start_period: dur("start-period")?,
                            start_interval: dur("start-interval")?,
                            retries,
                        }
                    }
                    other => {
                        return Err(bad(&format!(
                            "unknown type {other:?} in HEALTHCHECK (try CMD or NONE)"
                        )))
                    }
                };
                s.cc().healthcheck = Some(hc);
            }
            other => {
                return Err(bad(&format!(
                    "unknown instruction: {} (berth build --check explains)",
                    other.to_ascii_uppercase()
                )))
            }
        }
        Ok(())
    }

    fn run_step(
        &mut self,
        s: State,
        inst: &Instruction,
        stages: &Stages,
        done: &BTreeMap<usize, State>,
        stage: usize,
        meta: &[(String, String)],
    ) -> Result<State> {
        self.check_flags(inst, &["network", "mount", "security"])?;
        let workdir = s
            .config
            .config
            .as_ref()
            .and_then(|c| c.working_dir.clone())
            .unwrap_or_else(|| "/".into());
        let mut mounts = Vec::new();
        for v in inst.flag_values("mount") {
            let v = self.expand(&s, inst, v)?;
            let mut m = run_mounts::parse(&v)
                .map_err(|e| step_error(&self.file, inst, &format!("--mount={v}: {e}")))?;
            if !m.target.starts_with('/') {
                m.target = clean_abs(&format!("{workdir}/{}", m.target));
            }
            mounts.push(m);
        }
        // What bind mounts show the command is part of what the step depends on.
        let mut mount_key = String::new();
        let mut sources: BTreeMap<String, State> = BTreeMap::new();
        for m in mounts.iter().filter(|m| m.kind == "bind") {
            let source = crate::context::clean_relative(m.get("source").unwrap_or(""));
            mount_key.push_str(&match m.get("from") {
                None => self.ctx.checksum(&[source])?,
                Some(f) => {
                    let st = self.source_state(f, inst, stages, done, stage, meta)?;
                    let k = format!("{}:{source}", st.key);
                    sources.insert(f.to_string(), st);
                    k
                }
            });
        }

        if inst.flag("security").is_some_and(|v| v != "sandbox") {
            return Err(step_error(
                &self.file,
                inst,
                "RUN --security=insecure is not allowed (berth has no insecure entitlement)",
            ));
        }
        let network = match inst.flag("network") {
            None | Some("default") => self.opts.network.clone().unwrap_or_else(|| "bridge".into()),
            Some(n @ ("none" | "host")) => n.to_string(),
            Some(n) => {
                return Err(step_error(
                    &self.file,
                    inst,
                    &format!("--network={n}: expected default, none or host"),
                ))
            }
        };
        let cmd: Vec<String> = if inst.json {
            inst.args.clone()
        } else {
            let mut c = s.shell();
            c.push(shell_script(inst));
            c
        };
        // RUN sees the ARGs in scope as environment variables (ENV wins over ARG).
        let env_names: Vec<String> = s
            .env()
            .into_iter()
            .skip(s.args.len())
            .map(|(k, _)| k)
            .collect();
        let mut run_env: Vec<String> = s
            .args
            .iter()
            .filter(|(k, _)| !env_names.contains(k))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let keyed_env = run_env.join("\n");
        for (k, v) in &self.build_args {
            if PROXY_ARGS.contains(&k.as_str()) {
                if let Some(v) = v {
                    run_env.push(format!("{k}={v}"));
                }
            }
        }
        let created_by = format!("RUN {} # buildkit", cmd.join(" "));
        let key = self.key(
            &s,
            &format!(
                "RUN\n{}\n{keyed_env}\n{network}\n{}\n{mount_key}",
                cmd.join("\0"),
                inst.flags.join("\0")
            ),
        );
        let file = self.file.clone();
        let inst = inst.clone();
        self.cached_or(s, key, move |b, mut s| {
            let s2 = b.materialize(s.clone())?;
            let img = s2
                .image
                .clone()
                .ok_or_else(|| step_error(&file, &inst, "no image"))?;
            let cc = s.config.config.clone().unwrap_or_default();
            // Kept until the step is done: scratch roots and files the mounts show.
            let mut keep = MountKeep::default();
            let mut specs = Vec::new();
            for m in &mounts {
                if let Some(spec) = b.mount_spec(m, &sources, &mut keep).map_err(|e| match e {
                    Error::Step { .. } => e,
                    other => step_error(&file, &inst, &format!("--mount: {other}")),
                })? {
                    specs.push(spec);
                }
            }
            let o = RunOptions {
                mounts: specs,
                image: short(img.id()).to_string(),
                command: cmd.clone(),
                entrypoint: Some(String::new()),
                env: run_env,
                workdir: cc.working_dir.clone(),
                user: cc.user.clone(),
                network: Some(network),
                labels: vec![format!("{BUILD_LABEL}={file}:{}", inst.start_line)],
                health: berth_runtime::health::HealthFlags {
                    none: true,
                    ..Default::default()
                },
                ..RunOptions::default()
            };
            let rec =
                b.rt.create_from(&img, &o)
                    .map_err(|e| step_error(&file, &inst, &e.to_string()))?;
            let guard = RemoveOnDrop {
                rt: b.rt,
                id: rec.id.clone(),
            };
            b.say(&format!(" ---> Running in {}", &rec.id[..12]));
            let attach = if b.opts.quiet {
                Attach::Silent
            } else {
                Attach::Terminal
            };
            let code =
                b.rt.run(&rec.id, attach, &mut |_| {})
                    .map_err(|e| step_error(&file, &inst, &e.to_string()))?;
            if code != 0 {
                return Err(Error::RunFailed {
                    file: file.clone(),
                    line: inst.start_line,
                    command: cmd.join(" "),
                    code,
                });
            }
            let parent = s.chain_ids().last().cloned();
            let (d, size) = b.rt.layer_from_changes(&rec.id, parent.as_ref())?;
            drop(guard);
            drop(keep);
            Self::add_layer(&mut s, d, size);
            Self::history(&mut s, created_by, false);
            Ok(s)
        })
    }

    /// The state a `--from` names: an earlier stage, or an image (pulled if missing).
    fn source_state(
        &self,
        from: &str,
        inst: &Instruction,
        stages: &Stages,
        done: &BTreeMap<usize, State>,
        stage: usize,
        meta: &[(String, String)],
    ) -> Result<State> {
        let bad = |m: &str| step_error(&self.file, inst, m);
        let f = self
            .lex
            .process_word(from, &meta.to_vec())
            .map_err(|e| bad(&e.to_string()))?;
        match stages.find_before(&f, stage) {
            Some(i) => done.get(&i).cloned().ok_or_else(|| bad("stage not built")),
            None if stages.find(&f).is_some() => Err(bad(&format!(
                "from={f}: a stage can only use stages defined before it"
            ))),
            None => self.base_state(&f, inst, meta),
        }
    }

    /// The runtime mount for one `RUN --mount` (None: an optional secret nobody gave).
    fn mount_spec(
        &self,
        m: &RunMount,
        sources: &BTreeMap<String, State>,
        keep: &mut MountKeep,
    ) -> Result<Option<MountSpec>> {
        let bad = |msg: String| Error::Io {
            op: "mount",
            path: PathBuf::from(&m.target),
            source: std::io::Error::other(msg),
        };
        match m.kind.as_str() {
            "tmpfs" => Ok(Some(run_mounts::tmpfs(m))),
            "cache" => {
                if m.get("from").is_some() || m.get("source").is_some() {
                    return Err(bad(
                        "cache mounts with from= or source= are not supported by berth yet".into(),
                    ));
                }
                let dir = run_mounts::cache_dir(self.rt.root(), m)?;
                Ok(Some(run_mounts::bind(&dir, &m.target, !m.writable())))
            }
            "secret" => {
                let id = m
                    .get("id")
                    .filter(|i| !i.is_empty())
                    .map(str::to_string)
                    .unwrap_or_else(|| m.target.rsplit('/').next().unwrap_or("").to_string());
                let Some(value) = self.secret(&id)? else {
                    if m.get("required")
                        .is_some_and(|v| v.is_empty() || v == "true")
                    {
                        return Err(bad(format!("secret {id} is required but was not given (berth build --secret id={id},src=FILE)")));
                    }
                    return Ok(None);
                };
                let dir = tempfile_dir(&self.store)?;
                let path = dir.0.join("secret");
                std::fs::write(&path, value).ctx("write", &path)?;
                let mode = run_mounts::number(m, "mode", 8, 0o400).map_err(bad)?;
                let uid = run_mounts::number(m, "uid", 10, 0).map_err(bad)?;
                let gid = run_mounts::number(m, "gid", 10, 0).map_err(bad)?;
                std::os::unix::fs::chown(&path, Some(uid), Some(gid)).ctx("chown", &path)?;
                std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(mode))
                    .ctx("chmod", &path)?;
                keep.dirs.push(dir);
                Ok(Some(run_mounts::bind(&path, &m.target, true)))
            }
            _ => {
                let rel = crate::context::clean_relative(m.get("source").unwrap_or(""));
                let writable = m.writable();
                let Some(from) = m.get("from") else {
                    // The context: bound as it is when nothing is hidden from it and the
                    // command cannot write; otherwise a private copy of what it may see.
                    let host = self.ctx.host_path(&rel);
                    if std::fs::symlink_metadata(&host).is_err() || !self.ctx.included(&rel) {
                        return Err(bad(format!("{rel:?} not found in the build context")));
                    }
                    if self.ctx.ignore.is_empty() && !writable {
                        let real = std::fs::canonicalize(&host).ctx("resolve", &host)?;
                        let ctx_real =
                            std::fs::canonicalize(&self.ctx.dir).ctx("resolve", &self.ctx.dir)?;
                        if real.starts_with(&ctx_real) {
                            return Ok(Some(run_mounts::bind(&real, &m.target, true)));
                        }
                    }
                    let dir = tempfile_dir(&self.store)?;
                    let into = if std::fs::metadata(&host).is_ok_and(|m| m.is_dir()) {
                        "/"
                    } else {
                        "/file"
                    };
                    copy_source(
                        &Source::Context(&self.ctx),
                        &rel,
                        &dir.0,
                        into,
                        false,
                        CopyMode::default(),
                    )?;
                    let spec = run_mounts::bind(
                        &dir.0.join(into.trim_start_matches('/')),
                        &m.target,
                        !writable,
                    );
                    keep.dirs.push(dir);
                    return Ok(Some(spec));
                };
                let state = sources
                    .get(from)
                    .cloned()
                    .ok_or_else(|| bad(format!("from={from}: no such stage or image")))?;
                let scratch = ScratchRoot::mount(&self.store, &state.chain_ids())?;
                let path = berth_runtime::rootfs::resolve_in_root(scratch.root(), Path::new(&rel));
                keep.roots.push(scratch);
                // Writes land in the scratch root's upper dir and go with it.
                Ok(Some(run_mounts::bind(&path, &m.target, !writable)))
            }
        }
    }

    /// The value of `--secret id=ID,…`.
    fn secret(&self, id: &str) -> Result<Option<Vec<u8>>> {
        for s in &self.opts.secrets {
            let mut fields = BTreeMap::new();
            for part in s.split(',') {
                let (k, v) = part.split_once('=').unwrap_or((part, ""));
                fields.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
            if fields.get("id").map(String::as_str) != Some(id) {
                continue;
            }
            if let Some(src) = fields.get("src").or(fields.get("source")) {
                return std::fs::read(src).map(Some).map_err(|source| Error::Read {
                    what: "secret",
                    path: PathBuf::from(src),
                    source,
                });
            }
            let var = fields.get("env").cloned().unwrap_or_else(|| id.to_string());
            return Ok(std::env::var(&var).ok().map(String::into_bytes));
        }
        Ok(None)
    }

    fn copy_step(
        &mut self,
        s: State,
        inst: &Instruction,
        stages: &Stages,
        done: &BTreeMap<usize, State>,
        stage: usize,
        meta: &[(String, String)],
    ) -> Result<State> {
        let is_add = inst.keyword == "add";
        let allowed: &[&str] = if is_add {
            &[
                "chown",
                "chmod",
                "link",
                "exclude",
                "keep-git-dir",
                "checksum",
            ]
        } else {
            &["from", "chown", "chmod", "link", "exclude", "parents"]
        };
        self.check_flags(inst, allowed)?;
        let bad = |m: &str| step_error(&self.file, inst, m);
        if inst.flag("parents").is_some()
            || inst.flag("checksum").is_some()
            || inst.flag("keep-git-dir").is_some()
        {
            return Err(bad(
                "--parents, --checksum and --keep-git-dir are not supported by berth yet",
            ));
        }
        if inst.args.len() < 2 {
            return Err(bad(&format!(
                "{} requires at least two arguments",
                inst.keyword.to_ascii_uppercase()
            )));
        }
        let mut words = Vec::new();
        for a in &inst.args {
            words.push(self.expand(&s, inst, a)?);
        }
        let dest_word = words.pop().unwrap_or_default();
        let workdir = s
            .config
            .config
            .as_ref()
            .and_then(|c| c.working_dir.clone())
            .unwrap_or_else(|| "/".into());
        let dir_like = dest_word.ends_with('/') || dest_word == "." || dest_word.ends_with("/.");
        let dest = if dest_word.starts_with('/') {
            dest_word.clone()
        } else {
            format!("{}/{}", workdir.trim_end_matches('/'), dest_word)
        };
        let dest = clean_abs(&dest);
        let wildcard = words.iter().any(|w| w.contains(['*', '?', '[']));
        if (words.len() > 1 || wildcard) && !dir_like {
            // BuildKit's message.
            if words.len() > 1 {
                return Err(bad(&format!("When using {} with more than one source file, the destination must be a directory and end with a /", inst.keyword.to_ascii_uppercase())));
            }
        }
        let excludes: Vec<String> = inst
            .flag_values("exclude")
            .iter()
            .map(|v| v.to_string())
            .collect();
        let chown = match inst.flag("chown") {
            Some(c) => Some(self.expand(&s, inst, c)?),
            None => None,
        };
        let chmod = match inst.flag("chmod") {
            Some(m) => Some(
                u32::from_str_radix(m, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| {
                        bad(&format!("--chmod={m}: expected an octal mode such as 0755"))
                    })?,
            ),
            None => None,
        };
        // Heredoc sources (`COPY <<EOF /file`) become files in a private context.
        let mut heredoc_dir = None;
        let mut heredoc_ctx = None;
        if !inst.heredocs.is_empty() {
            let dir = tempfile_dir(&self.store)?;
            for h in &inst.heredocs {
                let body = if h.expand {
                    self.expand(&s, inst, &h.body())
                        .unwrap_or_else(|_| h.body())
                } else {
                    h.body()
                };
                std::fs::write(dir.0.join(&h.name), body).ctx("write", dir.0.join(&h.name))?;
            }
            for w in words.iter_mut() {
                if let Some(n) = w.strip_prefix("<<") {
                    *w = n
                        .trim_start_matches('-')
                        .trim_matches(['"', '\''])
                        .to_string();
                }
            }
            heredoc_ctx = Some(BuildContext {
                dir: dir.0.clone(),
                ignore: Default::default(),
            });
            heredoc_dir = Some(dir);
        }
        // Where the sources come from: the context, an earlier stage or an image.
        let from = match inst.flag("from") {
            None => None,
            Some(f) => Some(self.source_state(f, inst, stages, done, stage, meta)?),
        };
        for w in &words {
            if w.starts_with("http://") || w.starts_with("https://") || w.starts_with("git@") {
                return Err(bad(&format!(
                    "{w}: sources from URLs and git are not supported by berth yet"
                )));
            }
        }
        let mut ctx_sources: Vec<(String, Vec<String>)> = Vec::new();
        let source_ctx = heredoc_ctx.as_ref().unwrap_or(&self.ctx);
        let checksum = match &from {
            None => {
                for w in &words {
                    let found = source_ctx.sources(w);
                    let found: Vec<String> = found
                        .into_iter()
                        .filter(|p| !excluded_by(&excludes, p))
                        .collect();
                    if found.is_empty() && !w.contains(['*', '?', '[']) {
                        return Err(bad(&format!("{w:?} not found: no such file or directory in the build context (or excluded by .dockerignore)")));
                    }
                    ctx_sources.push((w.clone(), found));
                }
                let all: Vec<String> = ctx_sources.iter().flat_map(|(_, f)| f.clone()).collect();
                if all.is_empty() {
                    return Err(bad(&format!(
                        "no source files were specified that exist in the build context: {}",
                        words.join(" ")
                    )));
                }
                source_ctx.checksum(&all)?
            }
            Some(f) => f.key.clone(),
        };
        let text = inst.original.trim().to_string();
        let key = self.key(
            &s,
            &format!(
                "{text}\n{}\n{dest}\n{checksum}\n{:?}",
                words.join("\0"),
                (&chown, chmod)
            ),
        );
        let created_by = format!(
            "{} {} {} # buildkit",
            inst.keyword.to_ascii_uppercase(),
            words.join(" "),
            dest_word
        );
        let file = self.file.clone();
        let inst = inst.clone();
        self.cached_or(s, key, move |b, mut s| {
            let _heredocs = heredoc_dir;
            let source_ctx = heredoc_ctx.as_ref().unwrap_or(&b.ctx);
            let bad = |m: &str| step_error(&file, &inst, m);
            let mut scratch = ScratchRoot::mount(&b.store, &s.chain_ids())?;
            let root = scratch.root().to_path_buf();
            let owner = match &chown {
                Some(c) => {
                    let (u, g, _) = berth_runtime::rootfs::resolve_user(&root, c)
                        .map_err(|e| bad(&format!("--chown={c}: {e}")))?;
                    Some((u, g))
                }
                None if from.is_some() => None,
                None => Some((0, 0)),
            };
            let mode = CopyMode { owner, chmod };
            let into_existing_dir = || {
                std::fs::metadata(berth_runtime::rootfs::resolve_in_root(
                    &root,
                    Path::new(&dest),
                ))
                .is_ok_and(|m| m.is_dir())
            };
            let into_dir = dir_like || words.len() > 1 || wildcard || into_existing_dir();
            match &from {
                None => {
                    for (_, found) in &ctx_sources {
                        for rel in found {
                            let host = source_ctx.host_path(rel);
                            if is_add && host.is_file() && is_archive(&host) {
                                let target = make_dir(&root, &dest, owner)?;
                                let f = std::fs::File::open(&host).ctx("open", &host)?;
                                let (r, _) = berth_image::layer::decompressed(f, rel)?;
                                berth_image::layer::apply_layer(
                                    r,
                                    &target,
                                    berth_image::layer::WhiteoutMode::Literal,
                                )?;
                                continue;
                            }
                            copy_source(
                                &Source::Context(source_ctx),
                                rel,
                                &root,
                                &dest,
                                into_dir,
                                mode,
                            )?;
                        }
                    }
                }
                Some(f) => {
                    let src = ScratchRoot::mount(&b.store, &f.chain_ids())?;
                    for w in &words {
                        let found = root_sources(src.root(), w);
                        if found.is_empty() {
                            return Err(bad(&format!(
                                "{w:?} not found in the source stage or image"
                            )));
                        }
                        for rel in found {
                            copy_source(
                                &Source::Root(src.root()),
                                &rel,
                                &root,
                                &dest,
                                into_dir,
                                mode,
                            )?;
                        }
                    }
                }
            }
            let upper = scratch.changes()?.to_path_buf();
            let parent = s.chain_ids().last().cloned();
            let (d, size) =
                berth_image::commit::layer_from_upper(&b.store, parent.as_ref(), &upper, &[])?;
            Self::add_layer(&mut s, d, size);
            Self::history(&mut s, created_by, false);
            Ok(s)
        })
    }
}

/// Removes RUN containers whose build is gone (killed before it could remove them).
pub fn remove_abandoned_step_containers(rt: &Runtime) {
    for c in rt.list().unwrap_or_default() {
        // SAFETY: signal 0 only checks that the process exists.
        let builder_alive =
            c.state.monitor_pid > 0 && unsafe { libc::kill(c.state.monitor_pid, 0) } == 0;
        if c.config.labels.contains_key(BUILD_LABEL) && !builder_alive {
            let _ = rt.remove(&c.id, true, true);
        }
    }
}

/// What a RUN step's mounts need until the step is done.
#[derive(Default)]
struct MountKeep {
    roots: Vec<ScratchRoot>,
    dirs: Vec<TempDir>,
}

/// Removes a build step's container however the step ends.
struct RemoveOnDrop<'a> {
    rt: &'a Runtime,
    id: String,
}

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.rt.remove(&self.id, true, true);
    }
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

/// The shell script of a shell-form RUN, with its here-documents: a RUN that is only a
/// here-document runs the document; otherwise the shell gets the documents after the command.
fn shell_script(inst: &Instruction) -> String {
    let cmd = inst.args.join(" ");
    if inst.heredocs.is_empty() {
        return cmd;
    }
    let only_doc = inst.heredocs.len() == 1 && {
        let t = cmd.trim().trim_start_matches("<<").trim_start_matches('-');
        t.trim_matches(['"', '\'']) == inst.heredocs[0].name
    };
    if only_doc {
        return inst.heredocs[0].body();
    }
    let mut script = cmd;
    script.push('\n');
    for h in &inst.heredocs {
        script.push_str(&h.content);
        script.push_str(&h.name);
        script.push('\n');
    }
    script
}

/// Paths in another stage's root that a `COPY --from` source names (wildcards in the last
/// component only).
fn root_sources(root: &Path, source: &str) -> Vec<String> {
    let rel = crate::context::clean_relative(source);
    if !rel.contains(['*', '?', '[']) {
        let host = berth_runtime::rootfs::resolve_in_root(root, Path::new(&rel));
        return if std::fs::symlink_metadata(host).is_ok() {
            vec![rel]
        } else {
            Vec::new()
        };
    }
    let (parent, pat) = rel.rsplit_once('/').unwrap_or(("", &rel));
    let Ok(m) = berth_dockerfile::DockerIgnore::from_patterns(&[pat]) else {
        return Vec::new();
    };
    let dir = berth_runtime::rootfs::resolve_in_root(root, Path::new(parent));
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| m.excluded(n))
        .map(|n| crate::context::join(parent, &n))
        .collect();
    out.sort();
    out
}

fn excluded_by(excludes: &[String], path: &str) -> bool {
    !excludes.is_empty()
        && berth_dockerfile::DockerIgnore::from_patterns(excludes).is_ok_and(|m| m.excluded(path))
}

/// Whether ADD unpacks this file: a tar archive, plain or compressed (gzip, zstd).
fn is_archive(p: &Path) -> bool {
    use std::io::Read;
    let Ok(f) = std::fs::File::open(p) else {
        return false;
    };
    let Ok((mut r, _)) = berth_image::layer::decompressed(f, "archive") else {
        return false;
    };
    let mut head = [0u8; 512];
    let mut n = 0;
    while n < head.len() {
        match r.read(&mut head[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    n == 512 && &head[257..262] == b"ustar"
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

    #[test]
    fn run_heredocs_become_the_script() {
        let df = berth_dockerfile::parse(
            "FROM a\nRUN <<EOF\necho one\necho two\nEOF\nRUN cat <<A >/x\nhello\nA\n",
        )
        .unwrap();
        assert_eq!(shell_script(&df.instructions[1]), "echo one\necho two\n");
        assert_eq!(shell_script(&df.instructions[2]), "cat <<A >/x\nhello\nA\n");
    }
}
