//! `berth build --check`: problems a Dockerfile has, found without building, with BuildKit's
//! rule names where BuildKit has the rule.

use std::collections::HashMap;

use crate::ast::{Dockerfile, Instruction};
use crate::instructions::Command;
use crate::parser::parse;
use crate::shell::Lex;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    /// BuildKit's rule name where there is one (`FromAsCasing`), else a berth name.
    pub rule: &'static str,
    pub line: usize,
    pub end_line: usize,
    /// 1-based column of the offending text on `line`, 0 when the whole instruction is meant.
    pub column: usize,
    pub message: String,
}

/// Build arguments BuildKit defines for every build.
const AUTOMATIC_ARGS: &[&str] = &[
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
];

struct Checker<'t> {
    findings: Vec<Finding>,
    lines: Vec<&'t str>,
}

impl Checker<'_> {
    fn add(&mut self, sev: Severity, rule: &'static str, inst: &Instruction, message: String) {
        self.add_at(sev, rule, inst, message, None);
    }

    /// A finding pointing at `token` (its first occurrence on the instruction's first line).
    fn add_at(
        &mut self,
        sev: Severity,
        rule: &'static str,
        inst: &Instruction,
        message: String,
        token: Option<&str>,
    ) {
        let first = self
            .lines
            .get(inst.start_line.wrapping_sub(1))
            .copied()
            .unwrap_or("");
        let column = match token {
            Some(t) => first
                .find(t)
                .map(|i| first[..i].chars().count() + 1)
                .unwrap_or(0),
            None => 0,
        };
        self.findings.push(Finding {
            severity: sev,
            rule,
            line: inst.start_line,
            end_line: inst.end_line,
            column,
            message,
        });
    }
}

/// Checks Dockerfile text. A syntax error is reported alone (nothing after it can be trusted).
pub fn check(text: &str) -> Vec<Finding> {
    let df = match parse(text) {
        Ok(df) => df,
        Err(e) => {
            return vec![Finding {
                severity: Severity::Error,
                rule: "SyntaxError",
                line: e.line,
                end_line: e.line,
                column: e.column,
                message: e.message,
            }]
        }
    };
    let mut c = Checker {
        findings: Vec::new(),
        lines: text.lines().collect(),
    };
    for w in &df.warnings {
        c.findings.push(Finding {
            severity: Severity::Warning,
            rule: "NoEmptyContinuation",
            line: w.line,
            end_line: w.line,
            column: 0,
            message: "Empty continuation lines will become errors in a future release".into(),
        });
    }
    check_instructions(&df, &mut c);
    apply_check_directive(&df, &mut c.findings);
    c.findings
        .sort_by_key(|f| (f.line, std::cmp::Reverse(f.severity)));
    c.findings
}

fn check_instructions(df: &Dockerfile, c: &mut Checker) {
    let lex = Lex::new(df.directives.escape);
    let mut global_args: Vec<(String, String)> = AUTOMATIC_ARGS
        .iter()
        .map(|a| (a.to_string(), String::new()))
        .collect();
    // Stage names, in order.
    let mut stages: Vec<Option<String>> = Vec::new();
    let mut stage_env: Vec<(String, String)> = Vec::new();
    let mut seen_in_stage: HashMap<&'static str, usize> = HashMap::new();

    for inst in &df.instructions {
        let kw = inst.keyword.as_str();
        let upper = inst.keyword.to_ascii_uppercase();
        // Flags and argument shapes: the typing the builder does before its first step.
        if let Err(e) = Command::parse(inst) {
            c.add_at(Severity::Error, e.rule, inst, e.message, e.token.as_deref());
            if e.rule == "UnknownInstruction" {
                continue;
            }
        }
        if stages.is_empty() && kw != "from" && kw != "arg" {
            c.add(
                Severity::Error,
                "NoStage",
                inst,
                format!("{upper} before any FROM: no build stage in current context"),
            );
            continue;
        }
        match kw {
            "from" => {
                seen_in_stage.clear();
                stage_env.clear();
                check_from(inst, &lex, &global_args, &mut stages, c);
            }
            "arg" => {
                for a in &inst.args {
                    let (k, v) = a.split_once('=').unwrap_or((a, ""));
                    let env: &[(String, String)] = if stages.is_empty() {
                        &global_args
                    } else {
                        &stage_env
                    };
                    let v = match lex.process_word(v, &env) {
                        Ok(v) => v,
                        Err(e) => {
                            c.add(Severity::Error, "ExpansionError", inst, e.to_string());
                            continue;
                        }
                    };
                    if stages.is_empty() {
                        global_args.push((k.to_string(), v));
                    } else {
                        stage_env.push((k.to_string(), v));
                    }
                }
            }
            "env" | "label" => {
                for kv in inst.args.chunks(3) {
                    if let [k, v, _] = kv {
                        match lex.process_word(v, &stage_env) {
                            Ok(v) if kw == "env" => stage_env.push((k.clone(), v)),
                            Ok(_) => {}
                            Err(e) => c.add(Severity::Error, "ExpansionError", inst, e.to_string()),
                        }
                    }
                }
            }
            "maintainer" => c.add(
                Severity::Warning,
                "MaintainerDeprecated",
                inst,
                "MAINTAINER instruction is deprecated in favor of using label".into(),
            ),
            "copy" => {
                if let Some(from) = inst.flag("from") {
                    check_copy_from(inst, from, &stages, c);
                }
            }
            "cmd" | "entrypoint" => {
                let key = if kw == "cmd" { "CMD" } else { "ENTRYPOINT" };
                let n = seen_in_stage.entry(key).or_insert(0);
                *n += 1;
                if *n > 1 {
                    c.add(Severity::Warning, "MultipleInstructionsDisallowed", inst, format!(
                        "Multiple {key} instructions should not be used in the same stage because only the last one will be used"
                    ));
                }
            }
            "healthcheck" => {
                let n = seen_in_stage.entry("HEALTHCHECK").or_insert(0);
                *n += 1;
                if *n > 1 {
                    c.add(Severity::Warning, "MultipleInstructionsDisallowed", inst,
                        "Multiple HEALTHCHECK instructions should not be used in the same stage because only the last one will be used".into());
                }
            }
            "workdir" | "user" | "stopsignal" => {
                if let Some(Err(e)) = inst.args.first().map(|a| lex.process_word(a, &stage_env)) {
                    c.add(Severity::Error, "ExpansionError", inst, e.to_string());
                }
            }
            _ => {}
        }
        check_json_form(inst, c);
    }
}

fn check_from(
    inst: &Instruction,
    lex: &Lex,
    global_args: &[(String, String)],
    stages: &mut Vec<Option<String>>,
    c: &mut Checker,
) {
    let a = &inst.args;
    let name = match a.len() {
        1 => None,
        3 if a[1].eq_ignore_ascii_case("as") => {
            let kw_upper = inst.keyword_as_written == inst.keyword_as_written.to_ascii_uppercase();
            let as_upper = a[1] == a[1].to_ascii_uppercase();
            if kw_upper != as_upper {
                c.add(
                    Severity::Warning,
                    "FromAsCasing",
                    inst,
                    "'as' and 'FROM' keywords' casing do not match".into(),
                );
            }
            if a[2] != a[2].to_ascii_lowercase() {
                c.add(
                    Severity::Warning,
                    "StageNameCasing",
                    inst,
                    format!("Stage name '{}' should be lowercase", a[2]),
                );
            }
            let n = a[2].to_ascii_lowercase();
            if stages.iter().flatten().any(|s| *s == n) {
                c.add(
                    Severity::Error,
                    "DuplicateStageName",
                    inst,
                    format!("duplicate stage name {n:?}: stage names must be unique"),
                );
            }
            Some(n)
        }
        _ => {
            c.add(
                Severity::Error,
                "FromArguments",
                inst,
                "FROM requires either one or three arguments (FROM image [AS name])".into(),
            );
            None
        }
    };
    if let Some(image) = a.first() {
        match lex.process(image, &global_args) {
            Ok(p) => {
                for u in p.unset {
                    c.add(
                        Severity::Warning,
                        "UndefinedArgInFrom",
                        inst,
                        format!("FROM argument '{u}' is not declared"),
                    );
                }
            }
            Err(e) => c.add(Severity::Error, "ExpansionError", inst, e.to_string()),
        }
    }
    stages.push(name);
}

fn check_copy_from(inst: &Instruction, from: &str, stages: &[Option<String>], c: &mut Checker) {
    let current = stages.len().saturating_sub(1);
    if let Ok(n) = from.parse::<usize>() {
        if n >= current {
            c.add_at(Severity::Error, "CopyFromStage", inst, format!("COPY --from={n}: there is no earlier stage with index {n} (stages before this one: {current})"), Some("--from"));
        }
        return;
    }
    let lower = from.to_ascii_lowercase();
    if stages[..current].iter().flatten().any(|s| *s == lower) {
        return;
    }
    if stages.get(current).and_then(|s| s.as_ref()) == Some(&lower) {
        c.add(
            Severity::Error,
            "CopyFromStage",
            inst,
            format!("COPY --from={from}: a stage cannot copy from itself"),
        );
        return;
    }
    if from.contains('$') {
        return; // decided at build time
    }
    if valid_image_reference(from) {
        c.add_at(Severity::Warning, "CopyFromStage", inst, format!("COPY --from={from}: no earlier stage is named {from:?}, so it is used as an image reference"), Some("--from"));
    } else {
        c.add(
            Severity::Error,
            "CopyFromStage",
            inst,
            format!(
                "COPY --from={from}: names no earlier stage and is not a valid image reference"
            ),
        );
    }
}

/// A loose check of Docker's reference grammar (the image crate does the full parse).
fn valid_image_reference(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/:@".contains(c))
        && !s.starts_with(['.', '-', '/', ':'])
}

fn check_json_form(inst: &Instruction, c: &mut Checker) {
    let json_capable = matches!(
        inst.keyword.as_str(),
        "cmd" | "entrypoint" | "run" | "shell" | "add" | "copy" | "volume"
    );
    if json_capable
        && !inst.json
        && inst
            .args
            .first()
            .is_some_and(|a| a.trim_start().starts_with('['))
    {
        c.add(Severity::Warning, "InvalidJSONArgs", inst, format!(
            "{} arguments start with '[' but are not a valid JSON array of strings; they are used in shell form",
            inst.keyword.to_ascii_uppercase()
        ));
    }
}

/// `# check=skip=Rule1,Rule2` / `skip=all` / `error=true`.
fn apply_check_directive(df: &Dockerfile, findings: &mut Vec<Finding>) {
    let Some(dir) = &df.directives.check else {
        return;
    };
    let mut skip: Vec<String> = Vec::new();
    let mut error = false;
    for part in dir.split(';') {
        match part.trim().split_once('=') {
            Some(("skip", v)) => skip.extend(v.split(',').map(|s| s.trim().to_string())),
            Some(("error", v)) => error = v.trim() == "true",
            _ => {}
        }
    }
    findings.retain(|f| {
        f.severity == Severity::Error || !(skip.iter().any(|s| s == "all" || s == f.rule))
    });
    if error {
        for f in findings.iter_mut() {
            f.severity = Severity::Error;
        }
    }
}

/// The known instruction closest to `word` (edit distance at most 2).
#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Vec<(usize, &'static str, Severity)> {
        check(text)
            .into_iter()
            .map(|f| (f.line, f.rule, f.severity))
            .collect()
    }

    #[test]
    fn finds_each_problem_on_its_line() {
        let text = "FROM alpine as Build\nMAINTAINER me\nRUNN echo\nCOPY --form=x a b\nCMD [\"a\",]\nCMD b\nFROM ${BASE}\nFROM busybox AS build\nCOPY --from=nope:1 a b\nCOPY --from=5 a b\n";
        let r = rules(text);
        use Severity::*;
        assert!(r.contains(&(1, "FromAsCasing", Warning)), "{r:?}");
        assert!(r.contains(&(1, "StageNameCasing", Warning)));
        assert!(r.contains(&(2, "MaintainerDeprecated", Warning)));
        assert!(r.contains(&(3, "UnknownInstruction", Error)));
        assert!(r.contains(&(4, "UnknownFlag", Error)));
        assert!(r.contains(&(5, "InvalidJSONArgs", Warning)));
        assert!(r.contains(&(6, "MultipleInstructionsDisallowed", Warning)));
        assert!(r.contains(&(7, "UndefinedArgInFrom", Warning)));
        assert!(r.contains(&(8, "DuplicateStageName", Error)));
        assert!(r.contains(&(9, "CopyFromStage", Warning)));
        assert!(r.contains(&(10, "CopyFromStage", Error)));
        let m = check(text)
            .into_iter()
            .find(|f| f.rule == "UnknownInstruction")
            .unwrap()
            .message;
        assert_eq!(m, "unknown instruction: RUNN (did you mean RUN?)");
    }

    #[test]
    fn clean_file_and_check_directive() {
        assert!(check("ARG V=1\nFROM busybox:${V} AS base\nRUN echo hi\nFROM base\nCOPY --from=base /a /b\nCMD [\"sh\"]\n").is_empty());
        assert!(check("# check=skip=MaintainerDeprecated\nFROM a\nMAINTAINER x\n").is_empty());
        let f = check("# check=error=true\nFROM a\nMAINTAINER x\n");
        assert_eq!(f[0].severity, Severity::Error);
    }
}
