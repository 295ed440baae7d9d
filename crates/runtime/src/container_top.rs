//! `docker top` and the Engine API's `GET /containers/{id}/top`: the host's `ps` output for
//! the container's processes (those in its cgroup), split into Docker's Titles / Processes.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::lifecycle::Runtime;

#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct TopReport {
    pub titles: Vec<String>,
    pub processes: Vec<Vec<String>>,
}

impl Runtime {
    /// `ps_args` as `docker top` passes them (default `-ef`).
    pub fn top(&self, key: &str, ps_args: &[String]) -> Result<TopReport> {
        let c = self.find(key)?;
        if !c.state.running() {
            return Err(Error::Conflict(format!(
                "container {} is not running",
                c.id
            )));
        }
        let pids = crate::cgroups::CgroupFs::host().pids(&c.id);
        let args: Vec<String> = if ps_args.is_empty() {
            vec!["-ef".into()]
        } else {
            ps_args.to_vec()
        };
        let out = std::process::Command::new("ps")
            .args(&args)
            .output()
            .map_err(|e| Error::Io {
                op: "run",
                path: "ps".into(),
                source: e,
            })?;
        if !out.status.success() {
            return Err(Error::Invalid(format!(
                "ps {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        parse_ps(&String::from_utf8_lossy(&out.stdout), &pids)
    }
}

/// Splits `ps` output into titles and the rows of the given pids; the last column (the
/// command) keeps its spaces.
fn parse_ps(text: &str, pids: &[i32]) -> Result<TopReport> {
    let mut lines = text.lines();
    let titles: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let pid_col = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or_else(|| Error::Invalid("Couldn't find PID field in ps output".into()))?;
    let mut processes = Vec::new();
    for l in lines {
        let fields = split_fields(l, titles.len());
        let pid = fields.get(pid_col).and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            processes.push(fields);
        }
    }
    Ok(TopReport { titles, processes })
}

/// `n` whitespace-separated fields, the last one taking the rest of the line.
fn split_fields(line: &str, n: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(n);
    let mut rest = line.trim_start();
    while out.len() + 1 < n {
        let Some(end) = rest.find(char::is_whitespace) else {
            break;
        };
        out.push(rest[..end].to_string());
        rest = rest[end..].trim_start();
    }
    if !rest.is_empty() {
        out.push(rest.trim_end().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_output_is_split_with_the_command_whole() {
        let ps = "UID   PID  PPID  C STIME TTY  TIME     CMD\n\
                  root  10   1     0 12:00 ?    00:00:00 sleep 300\n\
                  root  11   10    0 12:00 ?    00:00:00 sh -c echo  two  spaces\n\
                  root  99   1     0 12:00 ?    00:00:00 not ours\n";
        let r = parse_ps(ps, &[10, 11]).unwrap();
        assert_eq!(
            r.titles,
            ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
        );
        assert_eq!(r.processes.len(), 2);
        assert_eq!(r.processes[0][7], "sleep 300");
        assert_eq!(r.processes[1][7], "sh -c echo  two  spaces");
        assert!(parse_ps("USER COMMAND\n", &[]).is_err());
    }
}
