//! A parsed Dockerfile as build stages: the ARGs before the first FROM, each stage's FROM and
//! body, which stage is the target and which stages it needs.

use std::collections::BTreeSet;

use berth_dockerfile::instructions::{parse_all, Command};
use berth_dockerfile::{Instruction, Lex};

use crate::error::{source_excerpt, Error, Result};

/// One instruction of a stage, typed.
#[derive(Debug, Clone)]
pub struct Step {
    pub instruction: Instruction,
    pub command: Command,
}

#[derive(Debug, Clone)]
pub struct Stage {
    pub index: usize,
    /// `AS name`, lower-cased (stage names are case-insensitive, as in BuildKit).
    pub name: Option<String>,
    /// The base as written (expanded later with the global ARGs).
    pub base: String,
    /// `FROM --platform=…` as written.
    pub platform: Option<String>,
    pub from: Instruction,
    pub body: Vec<Step>,
}

#[derive(Debug, Clone)]
pub struct Stages {
    /// ARG instructions before the first FROM.
    pub meta_args: Vec<Step>,
    pub stages: Vec<Stage>,
}

impl Stages {
    /// Types every instruction of the Dockerfile (`text`, parsed into `instructions`) and
    /// groups them into stages: everything that can be wrong without building is found here,
    /// before the first step, as BuildKit does.
    pub fn split(file: &str, text: &str, instructions: &[Instruction]) -> Result<Stages> {
        let wrong = |line: usize, end_line: usize, message: String| Error::Dockerfile {
            file: file.to_string(),
            line,
            message,
            excerpt: source_excerpt(file, text, line, end_line),
        };
        let commands = parse_all(instructions).map_err(|e| wrong(e.line, e.end_line, e.message))?;
        let mut meta_args = Vec::new();
        let mut stages: Vec<Stage> = Vec::new();
        for (inst, command) in instructions.iter().zip(commands) {
            if let Command::From(from) = command {
                if let Some(n) = &from.stage_name {
                    if stages.iter().any(|s| s.name.as_ref() == Some(n)) {
                        return Err(wrong(
                            inst.start_line,
                            inst.end_line,
                            format!("duplicate stage name {n:?}"),
                        ));
                    }
                }
                stages.push(Stage {
                    index: stages.len(),
                    name: from.stage_name,
                    base: from.image,
                    platform: from.platform,
                    from: inst.clone(),
                    body: Vec::new(),
                });
                continue;
            }
            let step = Step {
                instruction: inst.clone(),
                command,
            };
            match stages.last_mut() {
                Some(s) => s.body.push(step),
                None if matches!(step.command, Command::Arg(_)) => meta_args.push(step),
                None => {
                    return Err(wrong(
                        inst.start_line,
                        inst.end_line,
                        format!("no build stage in current context: the first instruction must be FROM (only ARG may come before {})", inst.keyword.to_ascii_uppercase()),
                    ))
                }
            }
        }
        if stages.is_empty() {
            return Err(wrong(
                1,
                1,
                "the Dockerfile has no FROM instruction: nothing to build".into(),
            ));
        }
        Ok(Stages { meta_args, stages })
    }

    /// The stage `--target` names (by name or index), or the last one.
    pub fn target(&self, target: Option<&str>) -> Result<usize> {
        match target {
            None => Ok(self.stages.len() - 1),
            Some(t) => self
                .find(t)
                .ok_or_else(|| Error::NoSuchTarget(t.to_string())),
        }
    }

    /// A stage named `s` (or numbered, as `COPY --from=0` does).
    pub fn find(&self, s: &str) -> Option<usize> {
        let lower = s.to_ascii_lowercase();
        self.stages
            .iter()
            .position(|st| st.name.as_deref() == Some(lower.as_str()))
            .or_else(|| s.parse::<usize>().ok().filter(|i| *i < self.stages.len()))
    }

    /// The stages `target` needs, itself included, in Dockerfile order. `expand` gives a FROM
    /// base or `--from` value after ARG expansion.
    pub fn needed(&self, target: usize, expand: &dyn Fn(&str) -> String) -> BTreeSet<usize> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![target];
        while let Some(i) = todo.pop() {
            if seen.insert(i) {
                todo.extend(self.uses(i, expand));
            }
        }
        seen
    }

    /// The earlier stages stage `i` uses: its base, `COPY --from`, `RUN --mount=…,from=`.
    pub fn uses(&self, i: usize, expand: &dyn Fn(&str) -> String) -> Vec<usize> {
        let st = &self.stages[i];
        let mut deps = Vec::new();
        if let Some(d) = self.find_before(&expand(&st.base), i) {
            deps.push(d);
        }
        for step in &st.body {
            let froms: Vec<&str> = match &step.command {
                Command::Copy(c) | Command::Add(c) => c.from.as_deref().into_iter().collect(),
                Command::Run(r) => r
                    .mounts
                    .iter()
                    .flat_map(|m| m.split(','))
                    .filter_map(|part| part.trim().strip_prefix("from="))
                    .collect(),
                _ => Vec::new(),
            };
            for f in froms {
                if let Some(d) = self.find_before(&expand(f), i) {
                    deps.push(d);
                }
            }
        }
        deps.sort_unstable();
        deps.dedup();
        deps
    }

    /// A stage defined before stage `before` that `s` names (a stage can only use earlier ones).
    pub fn find_before(&self, s: &str, before: usize) -> Option<usize> {
        self.find(s).filter(|i| *i < before)
    }
}

pub(crate) fn step_error(file: &str, inst: &Instruction, message: &str) -> Error {
    Error::Step {
        file: file.to_string(),
        line: inst.start_line,
        instruction: inst.keyword.to_ascii_uppercase(),
        message: message.to_string(),
    }
}

/// BuildKit's automatic platform ARGs for building on this machine for `target` (`os/arch[/variant]`).
pub fn platform_args(target: Option<&str>) -> Vec<(String, String)> {
    let host = host_platform();
    let target = target.unwrap_or(&host).to_string();
    let mut out = Vec::new();
    for (prefix, platform) in [("BUILD", &host), ("TARGET", &target)] {
        let mut parts = platform.splitn(3, '/');
        let os = parts.next().unwrap_or("linux").to_string();
        let arch = parts.next().unwrap_or("").to_string();
        let variant = parts.next().unwrap_or("").to_string();
        out.push((format!("{prefix}PLATFORM"), platform.clone()));
        out.push((format!("{prefix}OS"), os));
        out.push((format!("{prefix}ARCH"), arch));
        out.push((format!("{prefix}VARIANT"), variant));
    }
    out
}

fn host_platform() -> String {
    let arch = berth_image::config::host_architecture();
    match arch {
        "arm64" => "linux/arm64".into(),
        "arm" => "linux/arm/v7".into(),
        a => format!("linux/{a}"),
    }
}

/// Values of the ARGs declared before the first FROM, with `--build-arg` overrides, after the
/// ones every build has (`automatic`: TARGETARCH and the like).
pub fn meta_arg_values(
    file: &str,
    meta_args: &[Step],
    build_args: &[(String, Option<String>)],
    automatic: Vec<(String, String)>,
    lex: &Lex,
) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = automatic;
    for step in meta_args {
        let (inst, Command::Arg(decls)) = (&step.instruction, &step.command) else {
            continue;
        };
        for (name, default) in decls {
            let (name, default) = (name.clone(), default.clone());
            let given = build_args.iter().rev().find(|(k, _)| *k == name);
            let value = match (given, default) {
                (Some((_, v)), _) => v.clone(),
                (None, Some(d)) => Some(
                    lex.process_word(&d, &out)
                        .map_err(|e| step_error(file, inst, &e.to_string()))?,
                ),
                // Declared again without a default: keeps what it had.
                (None, None) => out
                    .iter()
                    .rev()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.clone()),
            };
            out.retain(|(k, _)| *k != name);
            if let Some(v) = value {
                out.push((name, v));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stages(text: &str) -> Result<Stages> {
        let df = berth_dockerfile::parse(text).unwrap();
        Stages::split("Dockerfile", text, &df.instructions)
    }

    #[test]
    fn stages_and_what_a_target_needs() {
        let s = stages(
            "ARG BASE=busybox\nFROM $BASE AS deps\nRUN a\nFROM deps AS build\nRUN b\nFROM busybox AS unused\nFROM scratch\nCOPY --from=build /x /x\n",
        )
        .unwrap();
        assert_eq!(s.meta_args.len(), 1);
        assert_eq!(s.stages.len(), 4);
        let t = s.target(None).unwrap();
        assert_eq!(t, 3);
        let id = |x: &str| x.to_string();
        assert_eq!(
            s.needed(t, &id).into_iter().collect::<Vec<_>>(),
            vec![0, 1, 3]
        );
        assert_eq!(s.target(Some("BUILD")).unwrap(), 1);
        assert_eq!(s.find("0"), Some(0));
        let e = s.target(Some("nope")).unwrap_err().to_string();
        assert!(e.contains("failed to reach build target nope"), "{e}");
    }

    #[test]
    fn bad_stage_layouts_name_the_line() {
        let e = stages("RUN true\nFROM a\n").unwrap_err().to_string();
        assert!(
            e.starts_with("dockerfile parse error on line 1: no build stage"),
            "{e}"
        );
        let e = stages("FROM a AS x\nFROM b AS X\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("dockerfile parse error on line 2: duplicate stage name"),
            "{e}"
        );
        // Every instruction is typed before the first step: a bad flag on the last line.
        let e = stages("FROM a\nRUN true\nCOPY --bogus x /\n").unwrap_err();
        match e {
            Error::Dockerfile { line, excerpt, .. } => {
                assert_eq!(line, 3);
                assert!(excerpt.contains("   3 | >>> COPY --bogus x /"), "{excerpt}");
            }
            other => panic!("{other}"),
        }
        let e = stages("FROM a b\n").unwrap_err().to_string();
        assert!(e.contains("one or three arguments"), "{e}");
        assert!(stages("ARG X\n")
            .unwrap_err()
            .to_string()
            .contains("no FROM"));
    }

    #[test]
    fn platform_args_describe_host_and_target() {
        let a = platform_args(Some("linux/arm/v7"));
        let get = |k: &str| a.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("TARGETARCH"), Some("arm"));
        assert_eq!(get("TARGETVARIANT"), Some("v7"));
        assert_eq!(get("BUILDOS"), Some("linux"));
        assert_eq!(
            get("BUILDARCH"),
            Some(berth_image::config::host_architecture())
        );
        let s = stages("ARG TARGETARCH\nFROM x\n").unwrap();
        let v =
            meta_arg_values("Dockerfile", &s.meta_args, &[], a.clone(), &Lex::new('\\')).unwrap();
        assert!(
            v.contains(&("TARGETARCH".to_string(), "arm".to_string())),
            "{v:?}"
        );
    }

    #[test]
    fn meta_args_take_build_arg_overrides() {
        let s = stages("ARG A=1\nARG B=${A}2\nARG C\nFROM x\n").unwrap();
        let lex = Lex::new('\\');
        let v = meta_arg_values("Dockerfile", &s.meta_args, &[], Vec::new(), &lex).unwrap();
        assert_eq!(v, vec![("A".into(), "1".into()), ("B".into(), "12".into())]);
        let v = meta_arg_values(
            "Dockerfile",
            &s.meta_args,
            &[
                ("A".into(), Some("9".into())),
                ("C".into(), Some("c".into())),
            ],
            Vec::new(),
            &lex,
        )
        .unwrap();
        assert_eq!(
            v,
            vec![
                ("A".into(), "9".into()),
                ("B".into(), "92".into()),
                ("C".into(), "c".into())
            ]
        );
    }
}
