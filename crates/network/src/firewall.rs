//! berth's iptables rules, all in berth's own chains and tagged with a comment naming their
//! owner (`berth-net:<network id>` or `berth:<container id>`), so removal and crash recovery
//! work from what the kernel has rather than from a file that may be stale.
//!
//! nat:    PREROUTING/OUTPUT (local destinations) -> BERTH-DNAT   published ports
//!         POSTROUTING -> BERTH-POSTROUTING                       masquerade out, hairpin, 127/8
//! filter: FORWARD (first rule) -> BERTH-FORWARD                  accepts for berth's bridges,
//!         so a host whose FORWARD policy is DROP (left by Docker, say) still passes traffic.

use std::net::Ipv4Addr;

use crate::command::run;
use crate::error::Result;
use crate::ports::PortMapping;
use crate::state::Network;

const DNAT: &str = "BERTH-DNAT";
const POSTROUTING: &str = "BERTH-POSTROUTING";
const FORWARD: &str = "BERTH-FORWARD";

fn iptables(args: &[&str]) -> Result<String> {
    run(
        "iptables",
        "iptables",
        &[&["-w"], args].concat(),
        None,
        None,
    )
}

/// Creates berth's chains and the jumps into them, if missing.
pub fn ensure_base() -> Result<()> {
    for (table, chain) in [("nat", DNAT), ("nat", POSTROUTING), ("filter", FORWARD)] {
        if iptables(&["-t", table, "-S", chain]).is_err() {
            iptables(&["-t", table, "-N", chain])?;
        }
    }
    let jumps: [(&str, &str, Vec<&str>, bool); 4] = [
        (
            "nat",
            "PREROUTING",
            vec!["-m", "addrtype", "--dst-type", "LOCAL", "-j", DNAT],
            false,
        ),
        (
            "nat",
            "OUTPUT",
            vec!["-m", "addrtype", "--dst-type", "LOCAL", "-j", DNAT],
            false,
        ),
        ("nat", "POSTROUTING", vec!["-j", POSTROUTING], false),
        ("filter", "FORWARD", vec!["-j", FORWARD], true),
    ];
    for (table, chain, rule, first) in jumps {
        let mut check = vec!["-t", table, "-C", chain];
        check.extend(&rule);
        if iptables(&check).is_err() {
            let mut add = vec!["-t", table];
            if first {
                add.extend(["-I", chain, "1"]);
            } else {
                add.extend(["-A", chain]);
            }
            add.extend(&rule);
            iptables(&add)?;
        }
    }
    Ok(())
}

fn restore(nat: &[String], filter: &[String]) -> Result<()> {
    let mut input = String::new();
    for (table, rules) in [("nat", nat), ("filter", filter)] {
        if rules.is_empty() {
            continue;
        }
        input.push_str(&format!("*{table}\n"));
        for r in rules {
            input.push_str(r);
            input.push('\n');
        }
        input.push_str("COMMIT\n");
    }
    if input.is_empty() {
        return Ok(());
    }
    run(
        "iptables-restore",
        "iptables-restore",
        &["-w", "--noflush"],
        Some(&input),
        None,
    )
    .map(|_| ())
}

pub fn network_tag(net: &Network) -> String {
    format!("berth-net:{}", &net.id[..12])
}

pub fn container_tag(container_id: &str) -> String {
    format!("berth:{container_id}")
}

/// The rules a network needs: masquerade for traffic leaving it, for hairpin connections to
/// published ports and for connections from 127.0.0.0/8 to published ports; forwarding
/// accepts (or drops, for --internal networks) and isolation from berth's other bridges.
pub fn add_network(net: &Network) -> Result<()> {
    let tag = network_tag(net);
    let c = format!("-m comment --comment {tag}");
    let (br, sub) = (&net.bridge, net.subnet.to_string());
    let mut nat = vec![
        // Clients on 127.0.0.1 keep their source ports, as with Docker's rule. Random ports
        // (--random-fully) made a new connection land on a container TIME_WAIT socket left by
        // another client port, whose TCP timestamps run on another offset: the SYN was dropped
        // as old (TcpExtPAWSTimewait) and retried a second later, and throughput under load
        // fell round after round (4.1k → 2.6k → 1.5k → 0.9k req/s; steady 4.1–4.3k without).
        format!("-A {POSTROUTING} -s 127.0.0.0/8 -o {br} {c} -j MASQUERADE"),
        format!("-A {POSTROUTING} -s {sub} -o {br} -m conntrack --ctstate DNAT {c} -j MASQUERADE"),
    ];
    let mut filter = vec![format!("-A {FORWARD} -i {br} -o {br} {c} -j ACCEPT")];
    if net.internal {
        filter.push(format!("-A {FORWARD} -i {br} {c} -j DROP"));
        filter.push(format!("-A {FORWARD} -o {br} {c} -j DROP"));
    } else {
        nat.push(format!(
            "-A {POSTROUTING} -s {sub} ! -o {br} {c} -j MASQUERADE"
        ));
        filter.push(format!("-A {FORWARD} -i {br} -o berth+ {c} -j DROP"));
        filter.push(format!("-A {FORWARD} -i {br} {c} -j ACCEPT"));
        filter.push(format!(
            "-A {FORWARD} -o {br} -m conntrack --ctstate RELATED,ESTABLISHED,DNAT {c} -j ACCEPT"
        ));
    }
    restore(&nat, &filter)
}

/// DNAT rules for a running container's published ports.
pub fn add_ports(container_id: &str, ip: Ipv4Addr, ports: &[PortMapping]) -> Result<()> {
    if ports.is_empty() {
        return Ok(());
    }
    let c = format!("-m comment --comment {}", container_tag(container_id));
    let nat: Vec<String> = ports
        .iter()
        .map(|p| {
            let dst = if p.host_ip.is_unspecified() {
                String::new()
            } else {
                format!("-d {}/32 ", p.host_ip)
            };
            let proto = p.proto.as_str();
            format!(
                "-A {DNAT} {dst}-p {proto} -m {proto} --dport {} {c} -j DNAT --to-destination {ip}:{}",
                p.host_port, p.container_port
            )
        })
        .collect();
    restore(&nat, &[])
}

/// Every rule in berth's chains, as (table, `-A ...` line).
fn berth_rules() -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for (table, chain) in [("nat", DNAT), ("nat", POSTROUTING), ("filter", FORWARD)] {
        if let Ok(text) = iptables(&["-t", table, "-S", chain]) {
            out.extend(
                text.lines()
                    .filter(|l| l.starts_with("-A "))
                    .map(|l| (table, l.to_string())),
            );
        }
    }
    out
}

fn tag_of(rule: &str) -> Option<String> {
    let rest = rule.split("--comment ").nth(1)?;
    let word = rest.split_whitespace().next()?;
    Some(word.trim_matches('"').to_string())
}

/// Removes every berth rule whose tag satisfies `doomed`.
pub fn remove_where(doomed: &dyn Fn(&str) -> bool) -> Result<()> {
    let (mut nat, mut filter) = (Vec::new(), Vec::new());
    for (table, rule) in berth_rules() {
        if tag_of(&rule).is_some_and(|t| doomed(&t)) {
            let del = format!("-D{}", &rule[2..]);
            if table == "nat" {
                nat.push(del);
            } else {
                filter.push(del);
            }
        }
    }
    restore(&nat, &filter)
}

/// Tags present in berth's chains.
pub fn tags() -> Vec<String> {
    let mut t: Vec<String> = berth_rules()
        .iter()
        .filter_map(|(_, r)| tag_of(r))
        .collect();
    t.sort();
    t.dedup();
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_read_back_from_listed_rules() {
        assert_eq!(
            tag_of("-A BERTH-DNAT -p tcp -m tcp --dport 80 -m comment --comment \"berth:abc\" -j DNAT --to-destination 1.2.3.4:80").as_deref(),
            Some("berth:abc")
        );
        assert_eq!(
            tag_of("-A BERTH-FORWARD -i berth0 -m comment --comment berth-net:0123 -j ACCEPT")
                .as_deref(),
            Some("berth-net:0123")
        );
        assert_eq!(tag_of("-A X -j ACCEPT"), None);
    }
}
