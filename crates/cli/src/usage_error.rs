//! Command-line mistakes reported as the docker CLI reports them: `unknown flag: --x` (exit
//! 125) and `'docker stop' requires at least 1 argument` (exit 1), each followed by the
//! command's usage and where to read more. Scripts and people match on these texts.

use std::process::ExitCode;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::CommandFactory;

/// Prints `e` as Docker would and returns the exit code to end with.
pub fn report(e: &clap::Error, args: Vec<String>) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        ErrorKind::UnknownArgument => {
            let flag = match e.get(ContextKind::InvalidArg) {
                Some(ContextValue::String(s)) => s.clone(),
                _ => String::new(),
            };
            let (path, usage) = command_of(&args);
            eprintln!(
                "{}\n\n{usage}\n\nRun '{path} --help' for more information",
                unknown_flag(&flag)
            );
            ExitCode::from(125)
        }
        ErrorKind::MissingRequiredArgument
        | ErrorKind::TooFewValues
        | ErrorKind::WrongNumberOfValues
            if missing_is_positional(e) =>
        {
            let (path, usage) = command_of(&args);
            let want = arity(&args).unwrap_or_else(|| "more arguments".into());
            eprintln!("berth: '{path}' requires {want}\n\n{usage}\n\nRun '{path} --help' for more information");
            ExitCode::from(1)
        }
        // Docker exits 125 when its own flags are wrong.
        _ => {
            let _ = e.print();
            ExitCode::from(125)
        }
    }
}

/// An error and its causes on one line, each cause once (a message that already quotes its
/// cause, as `{op} {path}: {source}` does, is not followed by it again), without a second
/// `Error:` prefix, and with control characters escaped: a message may quote bytes of a
/// file that is not what it should be, and those must not reach the terminal raw.
pub fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        let part = part.strip_prefix("Error: ").unwrap_or(&part).to_string();
        if part.is_empty() || text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    printable(&text)
}

/// `s` with each run of control characters (other than newline and tab) and of bytes that
/// were not text (U+FFFD) shown as one `?`.
fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_run = false;
    for c in s.chars() {
        if (c.is_control() && c != '\n' && c != '\t') || c == '\u{fffd}' {
            if !in_run {
                out.push('?');
            }
            in_run = true;
        } else {
            out.push(c);
            in_run = false;
        }
    }
    out
}

/// Docker's (pflag's) wording: `unknown flag: --name`, `unknown shorthand flag: 'x' in -xyz`.
fn unknown_flag(arg: &str) -> String {
    let bare = arg.split_once('=').map(|(f, _)| f).unwrap_or(arg);
    match bare.strip_prefix('-') {
        Some(short) if !short.starts_with('-') && !short.is_empty() => {
            let c = short.chars().next().unwrap_or('?');
            format!("unknown shorthand flag: '{c}' in {bare}")
        }
        _ => format!("unknown flag: {bare}"),
    }
}

/// Whether what is missing is an argument (`<CONTAINER>`), not a flag's value.
fn missing_is_positional(e: &clap::Error) -> bool {
    match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::Strings(v)) => v.iter().all(|s| !s.starts_with('-')),
        Some(ContextValue::String(s)) => !s.starts_with('-'),
        _ => false,
    }
}

/// The subcommand the arguments name (`network rm`), walked down from `berth`.
fn walk(args: &[String]) -> clap::Command {
    let mut cmd = crate::Cli::command();
    cmd.build();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--root" {
            it.next();
            continue;
        }
        if a.starts_with('-') {
            continue;
        }
        let Some(sub) = cmd.find_subcommand(a).cloned() else {
            break;
        };
        cmd = sub;
        if !cmd.has_subcommands() {
            break;
        }
    }
    cmd
}

fn command_of(args: &[String]) -> (String, String) {
    let mut cmd = walk(args);
    let path = cmd
        .get_bin_name()
        .map(str::to_string)
        .unwrap_or_else(|| "berth".into());
    let usage = cmd.render_usage().to_string();
    let usage = usage
        .strip_prefix("Usage: ")
        .map(|u| format!("Usage:  {u}"))
        .unwrap_or(usage);
    (path, usage)
}

/// "1 argument", "at least 1 argument", "at least 1 and at most 2 arguments": how many
/// arguments the command takes, from its positional arguments.
fn arity(args: &[String]) -> Option<String> {
    let cmd = walk(args);
    let (mut min, mut max) = (0usize, Some(0usize));
    for p in cmd.get_positionals() {
        let range = p.get_num_args();
        let many = matches!(p.get_action(), clap::ArgAction::Append);
        let (lo, hi) = match range {
            Some(r) => (
                r.min_values(),
                (r.max_values() != usize::MAX).then(|| r.max_values()),
            ),
            None => (1, Some(1)),
        };
        let hi = if many && range.is_none_or(|r| r.max_values() <= 1) {
            None
        } else {
            hi
        };
        if p.is_required_set() {
            min += lo.max(1);
        }
        max = match (max, hi) {
            (Some(m), Some(h)) => Some(m + h),
            _ => None,
        };
    }
    let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
    Some(match max {
        Some(m) if m == min => format!("{min} {}", plural(min)),
        Some(m) => format!("at least {min} and at most {m} arguments"),
        None => format!("at least {min} {}", plural(min)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn each_cause_is_printed_once_and_printable() {
        let io = std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "No such file or directory (os error 2)",
        );
        let e = anyhow::Error::new(berth_runtime::Error::Io {
            op: "open",
            path: "/x".into(),
            source: io,
        });
        assert_eq!(
            error_text(&e),
            "open /x: No such file or directory (os error 2)"
        );
        let e = anyhow::anyhow!("Error: Username and password are required");
        assert_eq!(error_text(&e), "Username and password are required");
        let e = anyhow::anyhow!("bad\x1b[31mred\x07\u{fffd}\u{fffd} 안녕").context("load");
        assert_eq!(error_text(&e), "load: bad?[31mred? 안녕");
    }

    #[test]
    fn flags_are_named_as_pflag_names_them() {
        assert_eq!(unknown_flag("--shm-size"), "unknown flag: --shm-size");
        assert_eq!(
            unknown_flag("--sig-proxy=false"),
            "unknown flag: --sig-proxy"
        );
        assert_eq!(unknown_flag("-x"), "unknown shorthand flag: 'x' in -x");
    }

    #[test]
    fn arity_follows_the_positional_arguments() {
        assert_eq!(arity(&args("stop")).unwrap(), "at least 1 argument");
        assert_eq!(arity(&args("--root /r rename")).unwrap(), "2 arguments");
        assert_eq!(
            arity(&args("commit")).unwrap(),
            "at least 1 and at most 2 arguments"
        );
        assert_eq!(arity(&args("build")).unwrap(), "1 argument");
        assert_eq!(arity(&args("network rm")).unwrap(), "at least 1 argument");
        assert_eq!(arity(&args("exec")).unwrap(), "at least 2 arguments");
        assert_eq!(command_of(&args("container ls")).0, "berth container ls");
    }
}
