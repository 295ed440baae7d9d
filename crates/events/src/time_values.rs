//! Times as Docker's `--since`/`--until` (and the `until` filters) take them: an RFC 3339
//! time, a date and time without zone (UTC), a date, Unix seconds, or a Go duration back
//! from now. Here so that every crate that filters by time (events, logs, prunes, image
//! lists) reads them alike; errors are the message to show.

use std::time::Duration;

/// A `--since`/`--until` value as Docker reads it: an RFC 3339 time, a date and time without
/// zone (UTC), a date, Unix seconds (`1700000000.5`), or a Go duration back from now
/// (`10m`, `1h30m`). Returned in the form log entries carry, so they compare as text.
pub fn parse_time(flag: &str, s: &str) -> Result<String, String> {
    use chrono::{NaiveDate, NaiveDateTime, TimeZone, Utc};
    let fmt = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(fmt(d.with_timezone(&Utc)));
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(fmt(Utc.from_utc_datetime(&d)));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(fmt(Utc.from_utc_datetime(&t)));
        }
    }
    let bad = || {
        format!("invalid value for \"{flag}\": failed to parse value as time or duration: {s:?}")
    };
    if let Some((secs, nanos)) = unix_seconds(s) {
        return Utc
            .timestamp_opt(secs, nanos)
            .single()
            .map(fmt)
            .ok_or_else(bad);
    }
    let d = go_duration(s).ok_or_else(bad)?;
    let d = chrono::Duration::from_std(d).map_err(|_| bad())?;
    Ok(fmt(Utc::now() - d))
}

/// `parse_time` as Unix nanoseconds (events and prune filters compare numbers).
pub fn parse_time_nanos(flag: &str, s: &str) -> Result<i64, String> {
    let t = parse_time(flag, s)?;
    chrono::DateTime::parse_from_rfc3339(&t)
        .ok()
        .and_then(|d| d.timestamp_nanos_opt())
        .ok_or_else(|| format!("invalid value for \"{flag}\": {s:?} is out of range"))
}

/// `1700000000` or `1700000000.123`: (seconds, nanoseconds).
fn unix_seconds(s: &str) -> Option<(i64, u32)> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 9 {
        return None;
    }
    let nanos = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    Some((int.parse().ok()?, nanos))
}

/// Go's `time.ParseDuration` for non-negative values: `1h30m`, `1.5s`, `300ms`.
fn go_duration(s: &str) -> Option<Duration> {
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|n| *n > 0)?;
        let value: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    Some(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(go_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(go_duration("300ms"), Some(Duration::from_millis(300)));
        assert_eq!(go_duration("10"), None);
        assert_eq!(go_duration("m"), None);
    }

    #[test]
    fn times_and_durations_parse_as_dockers() {
        assert_eq!(
            parse_time("since", "2024-01-02").unwrap(),
            "2024-01-02T00:00:00.000000000Z"
        );
        let e = parse_time("until", "soon").unwrap_err();
        assert!(e.contains("\"until\"") && e.contains("soon"), "{e}");
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap();
        let hour_ago = parse_time_nanos("until", "1h").unwrap();
        assert!((now - hour_ago - 3_600_000_000_000).abs() < 5_000_000_000);
    }
}
