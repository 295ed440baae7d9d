//! RUN: the command runs in a container made from the stage's state (with its `--mount`s);
//! its changes become the step's layer.

use std::collections::BTreeMap;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use berth_dockerfile::instructions::{RunCommand, RunNetwork};
use berth_dockerfile::Instruction;
use berth_runtime::client_io::ClientIo;
use berth_runtime::container_config::{Config, ContainerCreate, Healthcheck, HostConfig, Mount};
use berth_runtime::lifecycle::Attach;
use berth_runtime::volumes::MountSpec;
use berth_runtime::Runtime;

use super::{
    clean_abs, short, tempfile_dir, Builder, Scope, State, TempDir, BUILD_LABEL, PROXY_ARGS,
};
use crate::build_events::{BuildEvent, OutputStream};
use crate::copy::{copy_source, CopyMode, Source};
use crate::error::{Error, IoContext, Result};
use crate::run_mounts::{self, RunMount};
use crate::scratch::ScratchRoot;
use crate::stages::step_error;

impl Builder<'_> {
    /// RUN: the command in a container of the current state; its changes are the new layer.
    pub(super) fn run_step(
        &self,
        s: State,
        inst: &Instruction,
        run: &RunCommand,
        sc: &Scope,
    ) -> Result<State> {
        let workdir = s.workdir();
        let mut mounts = Vec::new();
        let mut ssh_mounts = 0;
        for v in &run.mounts {
            let v = self.expand(&s, inst, v)?;
            let mut m = RunMount::parse(&v)
                .map_err(|e| step_error(&self.file, inst, &format!("--mount={v}: {e}")))?;
            if m.kind == "ssh" {
                if m.target.is_empty() {
                    m.target = format!("/run/buildkit/ssh_agent.{ssh_mounts}");
                }
                ssh_mounts += 1;
            }
            if !m.target.starts_with('/') {
                m.target = clean_abs(&format!("{workdir}/{}", m.target));
            }
            mounts.push(m);
        }
        // What bind mounts show the command is part of what the step depends on.
        let mut mount_key = String::new();
        let mut sources: BTreeMap<String, State> = BTreeMap::new();
        // A cache mount's `from=` only fills a new cache: not part of the key (BuildKit's).
        for m in mounts.iter().filter(|m| m.kind == "cache") {
            if let Some(f) = m.get("from") {
                sources.insert(f.to_string(), self.source_state(f, inst, sc)?);
            }
        }
        for m in mounts.iter().filter(|m| m.kind == "bind") {
            let source = crate::context::clean_relative(m.get("source").unwrap_or(""));
            mount_key.push_str(&match m.get("from") {
                None => self.ctx.checksum(&[source])?,
                Some(f) => {
                    let st = self.source_state(f, inst, sc)?;
                    let k = format!("{}:{source}", st.key);
                    sources.insert(f.to_string(), st);
                    k
                }
            });
        }
        // `--security=insecure` was refused before the build started.
        let network = match run.network {
            RunNetwork::Default => self.opts.network.clone().unwrap_or_else(|| "bridge".into()),
            RunNetwork::None => "none".into(),
            RunNetwork::Host => "host".into(),
        };
        let cmd: Vec<String> = if run.command.exec_form {
            run.command.words.clone()
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
            // The first agent mount is the one SSH clients find (BuildKit's SSH_AUTH_SOCK).
            let mut run_env = run_env.clone();
            if let Some(sock) = keep.agent_targets.first() {
                run_env.push(format!("SSH_AUTH_SOCK={sock}"));
            }
            let mut host = HostConfig {
                network_mode: network,
                // RUN steps are not remapped (docs/differences.md): their layers are made
                // from the upper dir as it is on disk.
                userns_mode: "host".into(),
                extra_hosts: b.opts.extra_hosts.clone(),
                shm_size: b.opts.shm_size.map(|n| n as i64).unwrap_or(0),
                ..HostConfig::default()
            };
            for m in specs {
                add_mount(&mut host, m);
            }
            let spec = ContainerCreate {
                config: Config {
                    image: short(img.id()).to_string(),
                    cmd: Some(cmd.clone()),
                    // The shell form is in the command already: no image ENTRYPOINT in front.
                    entrypoint: Some(vec![String::new()]),
                    env: run_env,
                    working_dir: cc.working_dir.clone().unwrap_or_default(),
                    user: cc.user.clone().unwrap_or_default(),
                    labels: [(
                        BUILD_LABEL.to_string(),
                        format!("{file}:{}", inst.start_line),
                    )]
                    .into(),
                    healthcheck: Some(Healthcheck {
                        test: Some(vec!["NONE".into()]),
                        ..Healthcheck::default()
                    }),
                    ..Config::default()
                },
                host_config: host,
                ..ContainerCreate::default()
            };
            let rec =
                b.rt.create_from(&img, None, &spec)
                    .map_err(|e| step_error(&file, &inst, &e.to_string()))?;
            let guard = RemoveOnDrop {
                rt: b.rt,
                id: rec.id.clone(),
            };
            b.emit(&BuildEvent::Running {
                step: s.step,
                container: &rec.id,
            });
            let code = b
                .run_in_foreground(&rec.id, s.step)
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
            "ssh" => {
                let id = m.get("id").filter(|i| !i.is_empty()).unwrap_or("default");
                let Some((_, agent)) = self.opts.ssh.iter().find(|(i, _)| i == id) else {
                    if m.get("required")
                        .is_some_and(|v| v.is_empty() || v == "true")
                    {
                        return Err(bad(format!(
                            "no SSH agent {id:?} forwarded from the client (berth build --ssh {id}[=SOCKET])"
                        )));
                    }
                    return Ok(None);
                };
                let dir = tempfile_dir(&self.store)?;
                let sock = dir.0.join("agent.sock");
                let mode = m.number("mode", 8, 0o600).map_err(bad)?;
                let uid = m.number("uid", 10, 0).map_err(bad)?;
                let gid = m.number("gid", 10, 0).map_err(bad)?;
                let relay = crate::ssh_forwarding::AgentRelay::start(&sock, agent, mode, uid, gid)
                    .ctx("listen", &sock)?;
                keep.relays.push(relay);
                keep.dirs.push(dir);
                keep.agent_targets.push(m.target.clone());
                Ok(Some(run_mounts::bind(&sock, &m.target, false)))
            }
            "cache" => {
                let rel = crate::context::clean_relative(m.get("source").unwrap_or(""));
                let from = match m.get("from") {
                    Some(f) => Some(
                        sources
                            .get(f)
                            .ok_or_else(|| bad(format!("from={f}: no such stage or image")))?,
                    ),
                    None if !rel.is_empty() => {
                        return Err(bad("source= in a cache mount needs from=".into()))
                    }
                    None => None,
                };
                // A new cache starts as a copy of the stage's directory (owners kept).
                let seed = |into: &Path| -> Result<()> {
                    let Some(state) = from else { return Ok(()) };
                    let scratch = ScratchRoot::mount(&self.store, &state.chain_ids())?;
                    let host =
                        berth_runtime::rootfs::resolve_in_root(scratch.root(), Path::new(&rel));
                    if !host.is_dir() {
                        return Err(bad(format!(
                            "source={rel}: not a directory in from={}",
                            m.get("from").unwrap_or_default()
                        )));
                    }
                    copy_source(
                        &Source::Root(scratch.root()),
                        &rel,
                        into,
                        "/",
                        false,
                        CopyMode::default(),
                    )
                };
                let dir = run_mounts::cache_dir(self.rt.root(), m, Some(&seed))?;
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
                // Owner-only from the first byte; the mount's mode and owner are set next.
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)
                    .and_then(|mut f| std::io::Write::write_all(&mut f, &value))
                    .ctx("write", &path)?;
                let mode = m.number("mode", 8, 0o400).map_err(bad)?;
                let uid = m.number("uid", 10, 0).map_err(bad)?;
                let gid = m.number("gid", 10, 0).map_err(bad)?;
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
    /// Runs a RUN step's container to its end: its output comes back as `Output` events as
    /// it is written (on this thread: hosts need not be `Sync`), signals are the host's.
    fn run_in_foreground(&self, id: &str, step: usize) -> berth_runtime::Result<i32> {
        let (tx, rx) = std::sync::mpsc::channel::<(OutputStream, Vec<u8>)>();
        let (signals, hold) = match self.host.run_signals() {
            Some((rx, hold)) => (Some(rx), Some(hold)),
            None => (None, None),
        };
        let io = ClientIo {
            signals,
            ..ClientIo::writing_to(
                Box::new(ChannelWriter(OutputStream::Stdout, tx.clone())),
                Box::new(ChannelWriter(OutputStream::Stderr, tx)),
            )
        };
        let rt = self.rt;
        let code = std::thread::scope(|s| {
            let run = s.spawn(move || rt.run(id, Attach::Client(io), &mut |_| {}));
            // Ends when the run has dropped the writers.
            for (stream, chunk) in rx {
                self.emit(&BuildEvent::Output {
                    step,
                    stream,
                    chunk: &chunk,
                });
            }
            run.join().unwrap_or_else(|_| {
                Err(berth_runtime::Error::Relayed(
                    "the RUN step's monitor failed".into(),
                ))
            })
        });
        drop(hold);
        if let Ok(code) = code {
            self.emit(&BuildEvent::RunEnded { step, code });
        }
        code
    }

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
    /// SSH agent relays, stopped before their sockets' directories go.
    relays: Vec<crate::ssh_forwarding::AgentRelay>,
    roots: Vec<ScratchRoot>,
    dirs: Vec<TempDir>,
    /// Where the step's agent sockets are (`--mount=type=ssh` targets).
    agent_targets: Vec<String>,
}

/// Removes a build step's container however the step ends.
struct RemoveOnDrop<'a> {
    rt: &'a Runtime,
    id: String,
}

/// A RUN step's output stream, sent to the build's thread.
struct ChannelWriter(
    OutputStream,
    std::sync::mpsc::Sender<(OutputStream, Vec<u8>)>,
);

impl std::io::Write for ChannelWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.1
            .send((self.0, b.to_vec()))
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.rt.remove(&self.id, true, true);
    }
}

/// The shell script of a shell-form RUN, with its here-documents: a RUN that is only a
/// here-document runs the document; otherwise the shell gets the documents after the command.
pub(super) fn shell_script(inst: &Instruction) -> String {
    let cmd = inst.args.join(" ");
    if inst.heredocs.is_empty() {
        return cmd;
    }
    let only_doc = inst.heredocs.len() == 1 && {
        let t = cmd.trim().trim_start_matches("<<").trim_start_matches('-');
        t.trim_matches(['"', '\'']) == inst.heredocs[0].name
    };
    if only_doc {
        let body = inst.heredocs[0].body();
        if !body.starts_with("#!") {
            return body;
        }
        // A script with its own interpreter (`#!/usr/bin/env python3`) runs as a file, as in
        // BuildKit: written to a temporary file in the container, run, and removed (so it
        // leaves nothing in the layer). The delimiter cannot occur in the body.
        let mut delim = String::from("BERTH_HEREDOC_END");
        while body.lines().any(|l| l == delim) {
            delim.push('_');
        }
        return format!(
            "f=$(mktemp) && cat > \"$f\" <<'{delim}' && chmod +x \"$f\" && {{ \"$f\"; r=$?; rm -f \"$f\"; exit $r; }}\n{body}{delim}\n"
        );
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

/// A RUN mount as the container's HostConfig has it: tmpfs under Tmpfs, the rest as Mounts.
fn add_mount(host: &mut HostConfig, m: MountSpec) {
    if m.kind == "tmpfs" {
        host.tmpfs.insert(m.target, m.options.join(","));
    } else {
        host.mounts.push(Mount {
            kind: m.kind,
            source: m.source,
            target: m.target,
            read_only: m.readonly,
            ..Mount::default()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_heredocs_become_the_script() {
        let df = berth_dockerfile::parse(
            "FROM a\nRUN <<EOF\necho one\necho two\nEOF\nRUN cat <<A >/x\nhello\nA\n",
        )
        .unwrap();
        assert_eq!(shell_script(&df.instructions[1]), "echo one\necho two\n");
        assert_eq!(shell_script(&df.instructions[2]), "cat <<A >/x\nhello\nA\n");
        let df = berth_dockerfile::parse("FROM a\nRUN <<EOF\n#!/bin/cat\nBERTH_HEREDOC_END\nEOF\n")
            .unwrap();
        let script = shell_script(&df.instructions[1]);
        assert!(script.contains("<<'BERTH_HEREDOC_END_'"), "{script}");
        assert!(
            script.ends_with("#!/bin/cat\nBERTH_HEREDOC_END\nBERTH_HEREDOC_END_\n"),
            "{script}"
        );
    }
}
