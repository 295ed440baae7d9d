//! Docker-style presentation: sizes, ages, aligned tables, JSON.

use chrono::{DateTime, Utc};

/// Sizes as Docker prints them (decimal units, three significant digits): `4.26MB`, `0B`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    format!("{}{}", sig3(v), UNITS[i])
}

/// Binary sizes as `docker stats` prints them: `1.5MiB`, `64MiB`.
pub fn human_binary_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    format!("{}{}", sig3(v), UNITS[i])
}

/// Go's `%.3g` for values in [0, 1000).
fn sig3(v: f64) -> String {
    let decimals = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// "3 days ago", as Docker's CREATED column.
pub fn human_since(t: Option<&str>) -> String {
    let Some(ts) = t.and_then(|t| DateTime::parse_from_rfc3339(t).ok()) else {
        return "N/A".into();
    };
    let d = Utc::now().signed_duration_since(ts.with_timezone(&Utc));
    format!(
        "{} ago",
        human_duration(d.num_milliseconds().max(0) as f64 / 1000.0)
    )
}

pub use berth_runtime::container_list::human_duration;

/// Docker's `CreatedAt` form: `2024-01-02 03:04:05 +0000 UTC`.
pub fn created_at(t: Option<&str>) -> String {
    t.and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|d| {
            d.with_timezone(&Utc)
                .format("%Y-%m-%d %H:%M:%S +0000 UTC")
                .to_string()
        })
        .unwrap_or_default()
}

/// Aligns tab-separated cells like Go's tabwriter as Docker configures it (min width 10,
/// padding 3); the last column is not padded.
pub fn tabulate(text: &str) -> String {
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            if i + 1 < r.len() {
                widths[i] = widths[i].max((c.chars().count() + 3).max(10));
            }
        }
    }
    let mut out = String::new();
    for r in &rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            line.push_str(c);
            if i + 1 < r.len() {
                let pad = widths[i] - c.chars().count();
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// JSON as Go's encoder writes it (`<`, `>` and `&` escaped), on one line.
pub fn go_json(v: &serde_json::Value) -> String {
    let s = serde_json::to_string(v).unwrap_or_default();
    s.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// Indented JSON as `docker inspect` prints it.
pub fn pretty_json(v: &serde_json::Value) -> String {
    use serde::Serialize;
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    if v.serialize(&mut ser).is_err() {
        return String::new();
    }
    String::from_utf8(buf).unwrap_or_default()
}

/// Docker's prune prompt: prints `warning` and asks; true only for y/Y/yes.
pub fn confirm(warning: &str) -> std::io::Result<bool> {
    use std::io::{BufRead, Write};
    print!("{warning}\nAre you sure you want to continue? [y/N] ");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

/// What every `inspect` prints: the objects as one JSON array, or each through `--format`.
pub fn print_inspect(format: Option<&str>, found: Vec<serde_json::Value>) -> anyhow::Result<()> {
    match format {
        Some(f) => {
            let t = crate::template::Template::parse(f)
                .map_err(|e| anyhow::anyhow!(e))?
                .over_maps();
            for v in found {
                let v = crate::template::with_typed_nils(v);
                println!(
                    "{}",
                    t.render(&v).map_err(|e| anyhow::anyhow!("template: {e}"))?
                );
            }
        }
        None => println!("{}", pretty_json(&serde_json::Value::Array(found))),
    }
    Ok(())
}

/// Prints rows with `--format` (Go template, `table …`, `json`) or the default table.
pub fn print_table(
    format: Option<&str>,
    default: &str,
    headers: &[(&str, &str)],
    rows: &[serde_json::Value],
) -> anyhow::Result<u8> {
    let format = match format {
        None | Some("") | Some("table") => default,
        Some("json") => "{{json .}}",
        Some(f) => f,
    };
    let t = crate::template::Template::parse(format).map_err(|e| anyhow::anyhow!(e))?;
    let mut text = String::new();
    if t.table {
        text.push_str(&t.header(headers));
        text.push('\n');
    }
    for r in rows {
        text.push_str(&t.render(r).map_err(|e| anyhow::anyhow!("template: {e}"))?);
        text.push('\n');
    }
    let out = if t.table { tabulate(&text) } else { text };
    print!("{out}");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_docker() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(1000), "1kB");
        assert_eq!(human_size(4_261_234), "4.26MB");
        assert_eq!(human_size(12_345_678), "12.3MB");
        assert_eq!(human_size(123_456_789), "123MB");
        assert_eq!(human_size(1_500_000_000), "1.5GB");
    }

    #[test]
    fn durations_like_docker() {
        assert_eq!(human_duration(0.5), "Less than a second");
        assert_eq!(human_duration(30.0), "30 seconds");
        assert_eq!(human_duration(90.0), "About a minute");
        assert_eq!(human_duration(3600.0), "About an hour");
        assert_eq!(human_duration(5.0 * 86400.0), "5 days");
        assert_eq!(human_duration(20.0 * 86400.0), "2 weeks");
        assert_eq!(human_duration(800.0 * 86400.0), "2 years");
    }

    #[test]
    fn table_alignment() {
        let t = tabulate("REPOSITORY\tTAG\tIMAGE ID\nbusybox\tlatest\t0123456789ab\n");
        assert_eq!(
            t,
            "REPOSITORY   TAG       IMAGE ID\nbusybox      latest    0123456789ab\n"
        );
    }
}
