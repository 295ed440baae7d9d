//! Typed instructions: every instruction of a parsed Dockerfile turned once into a [`Command`]
//! with its flags checked (known, not repeated, with the values they need, booleans as
//! booleans) and its arguments in the shape the instruction needs — BuildKit's `instructions`
//! step. `berth build --check` reports these errors; the builder types the whole file before
//! its first step, so a bad flag on the last line fails the build before anything runs.
//!
//! Values stay as written: ARG/ENV expansion happens while a stage is built, so a value that
//! holds a variable (`--chmod=$MODE`, `--mount=…,id=$ID`) is checked after expansion.

use crate::ast::Instruction;
use crate::run_mount::RunMount;

/// One instruction, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    From(FromCommand),
    Run(RunCommand),
    Copy(CopyCommand),
    Add(CopyCommand),
    /// `ARG NAME[=default] …`
    Arg(Vec<(String, Option<String>)>),
    /// `ENV` pairs (key, value), unexpanded.
    Env(Vec<(String, String)>),
    Label(Vec<(String, String)>),
    Cmd(CommandLine),
    Entrypoint(CommandLine),
    /// `SHELL ["executable", "parameters"]`
    Shell(Vec<String>),
    Expose(Vec<String>),
    Volume(Vec<String>),
    User(String),
    Workdir(String),
    StopSignal(String),
    Maintainer(String),
    Healthcheck(HealthcheckCommand),
    Onbuild(OnbuildCommand),
}

/// `FROM [--platform=P] IMAGE [AS NAME]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromCommand {
    pub image: String,
    /// Lower-cased: stage names are case-insensitive, as in BuildKit.
    pub stage_name: Option<String>,
    pub platform: Option<String>,
}

/// A command in shell form (one string, run by the stage's SHELL) or exec form (JSON array).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    pub words: Vec<String>,
    pub exec_form: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunNetwork {
    /// The build's network (`berth build --network`, bridge by default).
    Default,
    None,
    Host,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunSecurity {
    Sandbox,
    Insecure,
}

/// `RUN [--mount=…]… [--network=…] [--security=…] COMMAND`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunCommand {
    /// `--mount` values as written; each is parsed with [`RunMount::parse`] after expansion.
    pub mounts: Vec<String>,
    pub network: RunNetwork,
    pub security: RunSecurity,
    pub command: CommandLine,
}

/// COPY and ADD (ADD's own flags are `None`/false on a COPY).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CopyCommand {
    /// Sources as written (here-document markers such as `<<EOF` included).
    pub sources: Vec<String>,
    pub dest: String,
    /// COPY only: a stage or an image.
    pub from: Option<String>,
    pub chown: Option<String>,
    /// An octal mode as written (checked here unless it holds a variable).
    pub chmod: Option<String>,
    pub link: bool,
    /// COPY only.
    pub parents: bool,
    pub excludes: Vec<String>,
    /// ADD only: the digest a downloaded source must have.
    pub checksum: Option<String>,
    /// ADD only.
    pub keep_git_dir: bool,
    /// ADD only: `--unpack=true|false`.
    pub unpack: Option<bool>,
}

/// `HEALTHCHECK NONE` or `HEALTHCHECK [--interval=…]… CMD command`; durations as written
/// (Go durations, checked by the builder, which owns the duration parser).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthcheckCommand {
    None,
    Cmd {
        command: CommandLine,
        interval: Option<String>,
        timeout: Option<String>,
        start_period: Option<String>,
        start_interval: Option<String>,
        retries: Option<u32>,
    },
}

/// `ONBUILD INSTRUCTION`: the trigger's text (stored in the image) and the trigger typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnbuildCommand {
    pub trigger: String,
    pub command: Box<Command>,
}

/// Why an instruction cannot be typed; `line` is the instruction's first line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InstructionError {
    /// The `berth build --check` rule (`UnknownFlag`, `MissingArgument`, …).
    pub rule: &'static str,
    pub line: usize,
    pub end_line: usize,
    /// What in the instruction's first line is wrong (`--foo`, the keyword), to point at.
    pub token: Option<String>,
    pub message: String,
}

impl berth_error_kind::HasKind for InstructionError {
    fn kind(&self) -> berth_error_kind::ErrorKind {
        berth_error_kind::ErrorKind::InvalidArgument
    }
}

/// Every instruction berth knows, as BuildKit spells them.
pub const INSTRUCTIONS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum FlagKind {
    /// `--name=value`, once.
    Text,
    /// `--name`, `--name=true|false`, once.
    Bool,
    /// `--name=value`, repeatable.
    List,
}

/// The flags each instruction takes (the one list both `--check` and the builder use).
fn flag_kinds(keyword: &str) -> &'static [(&'static str, FlagKind)] {
    use FlagKind::*;
    match keyword {
        "from" => &[("platform", Text)],
        "run" => &[("mount", List), ("network", Text), ("security", Text)],
        "copy" => &[
            ("from", Text),
            ("chown", Text),
            ("chmod", Text),
            ("link", Bool),
            ("parents", Bool),
            ("exclude", List),
        ],
        "add" => &[
            ("chown", Text),
            ("chmod", Text),
            ("link", Bool),
            ("checksum", Text),
            ("keep-git-dir", Bool),
            ("exclude", List),
            ("unpack", Bool),
        ],
        "healthcheck" => &[
            ("interval", Text),
            ("timeout", Text),
            ("start-period", Text),
            ("start-interval", Text),
            ("retries", Text),
        ],
        _ => &[],
    }
}

/// Flags after checking: (name, value) with booleans as "true"/"false".
struct Flags(Vec<(&'static str, String)>);

impl Flags {
    fn text(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    }
    fn bool(&self, name: &str) -> Option<bool> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v == "true")
    }
    fn list(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// Types every instruction of `instructions`, stopping at the first error (as BuildKit does).
pub fn parse_all(instructions: &[Instruction]) -> Result<Vec<Command>, InstructionError> {
    instructions.iter().map(Command::parse).collect()
}

impl Command {
    /// Types one instruction.
    pub fn parse(inst: &Instruction) -> Result<Command, InstructionError> {
        let fail = |rule: &'static str, message: String, token: Option<String>| InstructionError {
            rule,
            line: inst.start_line,
            end_line: inst.end_line,
            token,
            message,
        };
        let upper = inst.keyword.to_ascii_uppercase();
        if !INSTRUCTIONS.contains(&upper.as_str()) {
            let hint = suggest_instruction(&upper)
                .map(|s| format!(" (did you mean {s}?)"))
                .unwrap_or_default();
            return Err(fail(
                "UnknownInstruction",
                format!("unknown instruction: {}{hint}", inst.keyword_as_written),
                Some(inst.keyword_as_written.clone()),
            ));
        }
        let flags = check_flags(inst).map_err(|(r, m, t)| fail(r, m, Some(t)))?;
        let args = &inst.args;
        let one = |what: &str| -> Result<String, InstructionError> {
            match args.as_slice() {
                [a] => Ok(a.clone()),
                _ => Err(fail(
                    "MissingArgument",
                    format!("{upper} requires exactly one argument{what}"),
                    None,
                )),
            }
        };
        let at_least_one = || {
            if args.is_empty() {
                Err(fail(
                    "MissingArgument",
                    format!("{upper} requires at least one argument"),
                    None,
                ))
            } else {
                Ok(args.clone())
            }
        };
        let line = || CommandLine {
            words: args.clone(),
            exec_form: inst.json,
        };
        Ok(match inst.keyword.as_str() {
            "from" => {
                let (image, stage_name) = match args.as_slice() {
                    [b] => (b.clone(), None),
                    [b, as_kw, n] if as_kw.eq_ignore_ascii_case("as") => {
                        (b.clone(), Some(n.to_ascii_lowercase()))
                    }
                    _ => {
                        return Err(fail(
                            "MissingArgument",
                            "FROM requires either one or three arguments (IMAGE [AS NAME])".into(),
                            None,
                        ))
                    }
                };
                if let Some(n) = &stage_name {
                    if !valid_stage_name(n) {
                        return Err(fail("StageName", format!("invalid name for build stage: {n:?}, name can't start with a number or contain symbols"), None));
                    }
                }
                Command::From(FromCommand {
                    image,
                    stage_name,
                    platform: flags.text("platform"),
                })
            }
            "run" => {
                if args.is_empty() && inst.heredocs.is_empty() {
                    return Err(fail(
                        "MissingArgument",
                        "RUN requires at least one argument".into(),
                        None,
                    ));
                }
                let mounts = flags.list("mount");
                for m in &mounts {
                    // A value with a variable is checked once it is expanded.
                    if !m.contains('$') {
                        RunMount::parse(m).map_err(|e| {
                            fail(
                                "InvalidMount",
                                format!("--mount={m}: {e}"),
                                Some("--mount".into()),
                            )
                        })?;
                    }
                }
                let network = match flags.text("network").as_deref() {
                    None | Some("default") => RunNetwork::Default,
                    Some("none") => RunNetwork::None,
                    Some("host") => RunNetwork::Host,
                    Some(n) => {
                        return Err(fail(
                            "InvalidNetwork",
                            format!(
                                "unsupported network mode {n:?} (expected default, none or host)"
                            ),
                            Some("--network".into()),
                        ))
                    }
                };
                let security = match flags.text("security").as_deref() {
                    None | Some("sandbox") => RunSecurity::Sandbox,
                    Some("insecure") => RunSecurity::Insecure,
                    Some(s) => {
                        return Err(fail(
                            "InvalidSecurity",
                            format!(
                                "unsupported security mode {s:?} (expected sandbox or insecure)"
                            ),
                            Some("--security".into()),
                        ))
                    }
                };
                Command::Run(RunCommand {
                    mounts,
                    network,
                    security,
                    command: line(),
                })
            }
            "copy" | "add" => {
                if args.len() < 2 {
                    return Err(fail("MissingArgument", format!("{upper} requires at least two arguments, but only one was provided. Destination could not be determined"), None));
                }
                let chmod = flags.text("chmod");
                if let Some(m) = &chmod {
                    if !m.contains('$') && parse_octal_mode(m).is_none() {
                        return Err(fail(
                            "InvalidChmod",
                            format!("--chmod={m}: expected an octal mode such as 0755"),
                            Some("--chmod".into()),
                        ));
                    }
                }
                let mut sources = args.clone();
                let dest = sources.pop().unwrap_or_default();
                let c = CopyCommand {
                    sources,
                    dest,
                    from: flags.text("from"),
                    chown: flags.text("chown"),
                    chmod,
                    link: flags.bool("link").unwrap_or(false),
                    parents: flags.bool("parents").unwrap_or(false),
                    excludes: flags.list("exclude"),
                    checksum: flags.text("checksum"),
                    keep_git_dir: flags.bool("keep-git-dir").unwrap_or(false),
                    unpack: flags.bool("unpack"),
                };
                if inst.keyword == "copy" {
                    Command::Copy(c)
                } else {
                    Command::Add(c)
                }
            }
            "arg" => Command::Arg(
                at_least_one()?
                    .into_iter()
                    .map(|w| match w.split_once('=') {
                        Some((n, d)) => (n.to_string(), Some(d.to_string())),
                        None => (w, None),
                    })
                    .collect(),
            ),
            "env" | "label" => {
                if args.is_empty() {
                    return Err(fail(
                        "MissingArgument",
                        format!("{upper} requires at least one argument"),
                        None,
                    ));
                }
                // The parser leaves (key, value, separator) triples.
                let pairs = args
                    .chunks(3)
                    .map(|t| (t[0].clone(), t.get(1).cloned().unwrap_or_default()))
                    .collect();
                if inst.keyword == "env" {
                    Command::Env(pairs)
                } else {
                    Command::Label(pairs)
                }
            }
            "cmd" => Command::Cmd(line()),
            "entrypoint" => Command::Entrypoint(line()),
            "shell" => {
                if !inst.json {
                    return Err(fail(
                        "ShellNotJson",
                        "SHELL requires the arguments to be in JSON form".into(),
                        None,
                    ));
                }
                Command::Shell(at_least_one()?)
            }
            "expose" => Command::Expose(at_least_one()?),
            "volume" => Command::Volume(at_least_one()?),
            "user" => Command::User(one("")?),
            "workdir" => Command::Workdir(one("")?),
            "stopsignal" => Command::StopSignal(one("")?),
            "maintainer" => Command::Maintainer(args.join(" ")),
            "healthcheck" => {
                let kind = args.first().map(|a| a.to_ascii_uppercase());
                match kind.as_deref() {
                    Some("NONE") if args.len() == 1 => {
                        if !inst.flags.is_empty() {
                            return Err(fail(
                                "HealthcheckType",
                                "HEALTHCHECK NONE takes no other arguments or flags".into(),
                                None,
                            ));
                        }
                        Command::Healthcheck(HealthcheckCommand::None)
                    }
                    Some("NONE") => {
                        return Err(fail(
                            "MissingArgument",
                            "HEALTHCHECK NONE takes no other arguments".into(),
                            None,
                        ))
                    }
                    Some("CMD") => {
                        let rest = args[1..].to_vec();
                        if rest.is_empty() {
                            return Err(fail(
                                "MissingArgument",
                                "Missing command after HEALTHCHECK CMD".into(),
                                None,
                            ));
                        }
                        let retries = match flags.text("retries") {
                            None => None,
                            Some(v) => Some(v.parse::<u32>().map_err(|_| {
                                fail(
                                    "HealthcheckType",
                                    format!("--retries: {v:?} is not a non-negative number"),
                                    Some("--retries".into()),
                                )
                            })?),
                        };
                        Command::Healthcheck(HealthcheckCommand::Cmd {
                            command: CommandLine {
                                words: rest,
                                exec_form: inst.json,
                            },
                            interval: flags.text("interval"),
                            timeout: flags.text("timeout"),
                            start_period: flags.text("start-period"),
                            start_interval: flags.text("start-interval"),
                            retries,
                        })
                    }
                    Some(_) => {
                        return Err(fail(
                            "HealthcheckType",
                            format!("unknown type {:?} in HEALTHCHECK (try CMD)", args[0]),
                            None,
                        ))
                    }
                    None => {
                        return Err(fail(
                            "MissingArgument",
                            "HEALTHCHECK requires at least one argument".into(),
                            None,
                        ))
                    }
                }
            }
            "onbuild" => {
                let sub = inst.sub.as_deref().ok_or_else(|| {
                    fail(
                        "MissingArgument",
                        "ONBUILD requires at least one argument".into(),
                        None,
                    )
                })?;
                if matches!(sub.keyword.as_str(), "onbuild" | "from" | "maintainer") {
                    return Err(fail(
                        "OnbuildTrigger",
                        format!(
                            "{} isn't allowed as an ONBUILD trigger",
                            sub.keyword.to_ascii_uppercase()
                        ),
                        None,
                    ));
                }
                let command = Command::parse(sub)?;
                let trigger = inst
                    .original
                    .trim()
                    .get(inst.keyword_as_written.len()..)
                    .unwrap_or("")
                    .trim()
                    .to_string();
                Command::Onbuild(OnbuildCommand {
                    trigger,
                    command: Box::new(command),
                })
            }
            // INSTRUCTIONS and this match list the same keywords.
            other => {
                return Err(fail(
                    "UnknownInstruction",
                    format!("unknown instruction: {}", other.to_ascii_uppercase()),
                    None,
                ))
            }
        })
    }
}

/// Checks the flags of `inst` against what its instruction takes, with BuildKit's messages.
/// On error: the message and the flag as written, to point at.
fn check_flags(inst: &Instruction) -> Result<Flags, (&'static str, String, String)> {
    let kinds = flag_kinds(&inst.keyword);
    let mut out: Vec<(&'static str, String)> = Vec::new();
    for f in &inst.flags {
        let word = f.strip_prefix("--").unwrap_or(f);
        let (name, value) = match word.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (word, None),
        };
        let as_written = format!("--{name}");
        let Some((known, kind)) = kinds.iter().find(|(n, _)| *n == name) else {
            let takes = if kinds.is_empty() {
                format!("{} takes no flags", inst.keyword.to_ascii_uppercase())
            } else {
                format!(
                    "{} accepts {}",
                    inst.keyword.to_ascii_uppercase(),
                    kinds
                        .iter()
                        .map(|(n, _)| format!("--{n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return Err((
                "UnknownFlag",
                format!("unknown flag: --{name} ({takes})"),
                as_written,
            ));
        };
        if *kind != FlagKind::List && out.iter().any(|(n, _)| n == known) {
            return Err((
                "InvalidFlag",
                format!("duplicate flag specified: {name}"),
                as_written,
            ));
        }
        let value = match (kind, value) {
            (FlagKind::Bool, None) => "true".to_string(),
            (FlagKind::Bool, Some("")) | (_, None) => {
                return Err((
                    "InvalidFlag",
                    format!("missing a value on flag: {name}"),
                    as_written,
                ))
            }
            (FlagKind::Bool, Some(v)) => match v.to_ascii_lowercase().as_str() {
                "true" => "true".into(),
                "false" => "false".into(),
                _ => {
                    return Err((
                        "InvalidFlag",
                        format!("expecting boolean value for flag {name}, not: {v}"),
                        as_written,
                    ))
                }
            },
            (_, Some(v)) => v.to_string(),
        };
        out.push((known, value));
    }
    Ok(Flags(out))
}

/// An octal file mode up to 07777 (`--chmod=0755`).
pub fn parse_octal_mode(m: &str) -> Option<u32> {
    u32::from_str_radix(m, 8).ok().filter(|m| *m <= 0o7777)
}

/// BuildKit's rule for stage names: a letter first, then letters, digits, `-`, `_`, `.`.
fn valid_stage_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The known instruction closest to `word` (at most two edits away).
pub fn suggest_instruction(word: &str) -> Option<&'static str> {
    INSTRUCTIONS
        .iter()
        .map(|i| (edit_distance(word, i), *i))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, i)| i)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    fn typed(text: &str) -> Result<Vec<Command>, InstructionError> {
        parse_all(&parse(text).unwrap().instructions)
    }

    fn error(text: &str) -> (usize, String) {
        let e = typed(text).unwrap_err();
        (e.line, e.message)
    }

    #[test]
    fn flags_are_typed_once() {
        let c = typed("FROM --platform=linux/amd64 busybox AS Build\nCOPY --from=build --chmod=0755 --link --exclude=*.md --exclude=x a b /dst/\nADD --unpack=false --keep-git-dir=true a.tar /\n").unwrap();
        assert_eq!(
            c[0],
            Command::From(FromCommand {
                image: "busybox".into(),
                stage_name: Some("build".into()),
                platform: Some("linux/amd64".into()),
            })
        );
        let Command::Copy(copy) = &c[1] else {
            panic!("{:?}", c[1])
        };
        assert_eq!(copy.from.as_deref(), Some("build"));
        assert_eq!(copy.chmod.as_deref(), Some("0755"));
        assert!(copy.link);
        assert_eq!(copy.excludes, ["*.md", "x"]);
        assert_eq!(
            (copy.sources.clone(), copy.dest.as_str()),
            (vec!["a".to_string(), "b".to_string()], "/dst/")
        );
        let Command::Add(add) = &c[2] else {
            panic!("{:?}", c[2])
        };
        assert_eq!(add.unpack, Some(false));
        assert!(add.keep_git_dir);
    }

    #[test]
    fn bad_flags_get_buildkit_messages() {
        assert_eq!(
            error("FROM busybox\nCOPY --foo=1 a /\n"),
            (2, "unknown flag: --foo (COPY accepts --from, --chown, --chmod, --link, --parents, --exclude)".into())
        );
        assert_eq!(
            error("FROM busybox\nCOPY --from=a --from=b x /\n"),
            (2, "duplicate flag specified: from".into())
        );
        assert_eq!(
            error("FROM busybox\nCOPY --from x /\n"),
            (2, "missing a value on flag: from".into())
        );
        assert_eq!(
            error("FROM busybox\nCOPY --link=maybe x /\n"),
            (
                2,
                "expecting boolean value for flag link, not: maybe".into()
            )
        );
        assert_eq!(
            error("FROM busybox\nADD --from=a x /\n").1,
            "unknown flag: --from (ADD accepts --chown, --chmod, --link, --checksum, --keep-git-dir, --exclude, --unpack)"
        );
        assert_eq!(
            error("FROM busybox\nWORKDIR --x=1 /a\n").1,
            "unknown flag: --x (WORKDIR takes no flags)"
        );
        // Repeatable flags repeat.
        assert!(typed(
            "FROM busybox\nRUN --mount=type=tmpfs,target=/a --mount=type=tmpfs,target=/b true\n"
        )
        .is_ok());
    }

    #[test]
    fn values_are_checked_unless_they_hold_variables() {
        assert_eq!(
            error("FROM busybox\nRUN --network=bridge true\n").1,
            "unsupported network mode \"bridge\" (expected default, none or host)"
        );
        assert_eq!(
            error("FROM busybox\nRUN --mount=type=nfs,target=/x true\n").1,
            "--mount=type=nfs,target=/x: unsupported mount type \"nfs\" (expected bind, cache, tmpfs, secret or ssh)"
        );
        assert!(typed("FROM busybox\nRUN --mount=type=$T,target=/x true\n").is_ok());
        assert_eq!(
            error("FROM busybox\nCOPY --chmod=rwx a /\n").1,
            "--chmod=rwx: expected an octal mode such as 0755"
        );
        assert!(typed("FROM busybox\nCOPY --chmod=$M a /\n").is_ok());
        assert_eq!(
            error("FROM busybox\nHEALTHCHECK --retries=-1 CMD true\n").1,
            "--retries: \"-1\" is not a non-negative number"
        );
    }

    #[test]
    fn argument_shapes_are_checked() {
        assert_eq!(
            error("FROM busybox\nNOINSTRUCTION x\n"),
            (2, "unknown instruction: NOINSTRUCTION".into())
        );
        assert_eq!(
            error("FROM busybox\nRUNN x\n").1,
            "unknown instruction: RUNN (did you mean RUN?)"
        );
        assert_eq!(
            error("FROM busybox\nCOPY a\n").1,
            "COPY requires at least two arguments, but only one was provided. Destination could not be determined"
        );
        assert_eq!(
            error("FROM a b\n").1,
            "FROM requires either one or three arguments (IMAGE [AS NAME])"
        );
        assert!(error("FROM a AS 1x\n")
            .1
            .starts_with("invalid name for build stage"));
        assert_eq!(
            error("FROM a\nWORKDIR\n").1,
            "WORKDIR requires exactly one argument"
        );
        assert_eq!(
            error("FROM a\nSHELL /bin/sh -c\n").1,
            "SHELL requires the arguments to be in JSON form"
        );
        assert_eq!(
            error("FROM a\nONBUILD FROM b\n").1,
            "FROM isn't allowed as an ONBUILD trigger"
        );
        assert_eq!(
            error("FROM a\nONBUILD COPY --nope a b\n").1,
            "unknown flag: --nope (COPY accepts --from, --chown, --chmod, --link, --parents, --exclude)"
        );
        assert_eq!(
            error("FROM a\nHEALTHCHECK BOGUS\n").1,
            "unknown type \"BOGUS\" in HEALTHCHECK (try CMD)"
        );
        let c = typed("FROM a\nONBUILD RUN echo hi\nARG A=1 B\nENV X=1 Y=2\n").unwrap();
        let Command::Onbuild(o) = &c[1] else {
            panic!("{:?}", c[1])
        };
        assert_eq!(o.trigger, "RUN echo hi");
        assert!(matches!(*o.command, Command::Run(_)));
        assert_eq!(
            c[2],
            Command::Arg(vec![("A".into(), Some("1".into())), ("B".into(), None)])
        );
        assert_eq!(
            c[3],
            Command::Env(vec![("X".into(), "1".into()), ("Y".into(), "2".into())])
        );
    }
}
