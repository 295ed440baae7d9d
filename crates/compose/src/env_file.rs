//! `.env` and `env_file:` files: `KEY=value` lines, `export KEY=value`, `#` comments, values
//! in single quotes (literal) or double quotes (with `\n`, `\"` escapes), a bare `KEY` that
//! takes its value from the environment.

use std::path::Path;

use crate::error::{io, Error, Result};
use crate::interpolation::Variables;

/// Parses an env file's text. A bare `KEY` line gives `(KEY, None)`.
pub fn parse(text: &str, file: &Path) -> Result<Vec<(String, Option<String>)>> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), Some(value_text(v.trim_start()))),
            None => (line, None),
        };
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(Error::Invalid(format!(
                "{}:{}: unexpected character in variable name {key:?}",
                file.display(),
                n + 1
            )));
        }
        out.push((key.to_string(), value));
    }
    Ok(out)
}

fn value_text(v: &str) -> String {
    if let Some(rest) = v.strip_prefix('\'') {
        if let Some(end) = rest.find('\'') {
            return rest[..end].to_string();
        }
    }
    if let Some(rest) = v.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return out,
                '\\' => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(o) => out.push(o),
                    None => break,
                },
                c => out.push(c),
            }
        }
        return out;
    }
    // An unquoted value ends at ` #` (an inline comment).
    match v.find(" #") {
        Some(i) => v[..i].trim_end().to_string(),
        None => v.trim_end().to_string(),
    }
}

/// Reads an env file into `vars`, never overriding what is there already (the process
/// environment wins over `.env`). Bare keys are looked up in `vars`.
pub fn load_into(path: &Path, vars: &mut Variables) -> Result<()> {
    let text = std::fs::read_to_string(path).map_err(io("read", path))?;
    for (k, v) in parse(&text, path)? {
        if let Some(v) = v {
            vars.entry(k).or_insert(v);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_quotes_comments_and_exports() {
        let text = "# comment\n\nA=1\nexport B = two words \nC='lit $X \\n'\nD=\"l1\\nl2 \\\"q\\\"\"\nE=v # note\nF\nG=\n";
        let got = parse(text, Path::new(".env")).unwrap();
        let want: Vec<(String, Option<String>)> = vec![
            ("A".into(), Some("1".into())),
            ("B".into(), Some("two words".into())),
            ("C".into(), Some("lit $X \\n".into())),
            ("D".into(), Some("l1\nl2 \"q\"".into())),
            ("E".into(), Some("v".into())),
            ("F".into(), None),
            ("G".into(), Some(String::new())),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn a_bad_name_names_file_and_line() {
        let e = parse("A=1\nBAD NAME=2\n", Path::new("/p/.env")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/p/.env:2: unexpected character in variable name \"BAD NAME\""
        );
    }
}
