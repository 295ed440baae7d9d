//! Networks as front ends see them: Docker's inspect/list JSON (`GET /networks`,
//! `network inspect`), and berth-network's operations plus Docker's network events (create,
//! destroy, connect, disconnect) in the journal of this runtime's root.

use berth_events::Event;
use berth_network::{Endpoint, Network};
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::lifecycle::Runtime;

impl Runtime {
    /// A network's inspect JSON, found as Docker finds it: by full name or ID, then by a unique ID
    /// prefix.
    pub fn network_inspect(&self, key: &str) -> Result<Option<Value>> {
        let all = self.networks_json()?;
        if let Some(v) = all.iter().find(|v| v["Name"] == key || v["Id"] == key) {
            return Ok(Some(v.clone()));
        }
        let mut by_prefix = all
            .into_iter()
            .filter(|v| v["Id"].as_str().is_some_and(|i| i.starts_with(key)));
        Ok(match (by_prefix.next(), by_prefix.next()) {
            (Some(v), None) => Some(v),
            _ => None,
        })
    }

    /// Every network as `network ls` and `inspect` see them: bridges, then host and none.
    pub fn networks_json(&self) -> Result<Vec<Value>> {
        let mut out: Vec<Value> = self
            .networking()
            .list()?
            .iter()
            .map(|n| self.network_json(Some(n), &n.name))
            .collect();
        for name in ["host", "none"] {
            out.push(self.network_json(None, name));
        }
        Ok(out)
    }

    /// `network ls` / `GET /networks`: the networks that pass every `key=value` filter
    /// (Docker's: name, id, driver, label, type).
    pub fn list_networks(&self, filters: &[String]) -> Result<Vec<Value>> {
        let mut nets = self.networks_json()?;
        for f in filters {
            let Some((k, v)) = f.split_once('=') else {
                return Err(Error::Invalid(
                    "bad format of filter (expected name=value)".into(),
                ));
            };
            let v = v.to_string();
            match k {
                "name" => nets.retain(|n| n["Name"].as_str().is_some_and(|x| x.contains(&v))),
                "id" => nets.retain(|n| n["Id"].as_str().is_some_and(|x| x.starts_with(&v))),
                "driver" => nets.retain(|n| n["Driver"] == v.as_str()),
                "label" => nets.retain(|n| match v.split_once('=') {
                    Some((lk, lv)) => n["Labels"][lk] == lv,
                    None => n["Labels"].get(&v).is_some(),
                }),
                "type" => nets.retain(|n| {
                    let builtin =
                        berth_network::PREDEFINED.contains(&n["Name"].as_str().unwrap_or(""));
                    (v == "builtin") == builtin
                }),
                _ => {
                    return Err(Error::Invalid(format!(
                        "invalid filter '{k}': supported filters are name, id, driver, label, type"
                    )))
                }
            }
        }
        Ok(nets)
    }

    /// Docker's shape of a network object.
    fn network_json(&self, n: Option<&Network>, name: &str) -> Value {
        let Some(n) = n else {
            return json!({
                "Name": name, "Id": pseudo_id(name), "Created": "0001-01-01T00:00:00Z",
                "Scope": "local", "Driver": if name == "none" { "null" } else { "host" },
                "EnableIPv6": false, "IPAM": {"Driver": "default", "Options": null, "Config": []},
                "Internal": false, "Attachable": false, "Ingress": false,
                "Containers": {}, "Options": {}, "Labels": {},
            });
        };
        let mut ipam = json!({"Subnet": n.subnet.to_string(), "Gateway": n.gateway.to_string()});
        // As Docker: only when set.
        if let Some(r) = n.ip_range {
            ipam["IPRange"] = json!(r.to_string());
        }
        if !n.aux_addresses.is_empty() {
            ipam["AuxiliaryAddresses"] = json!(n.aux_addresses);
        }
        let mut config = vec![ipam];
        if let Some(v6) = &n.ipv6 {
            let mut c = json!({"Subnet": v6.subnet.to_string(), "Gateway": v6.gateway.to_string()});
            if let Some(r) = v6.ip_range {
                c["IPRange"] = json!(r.to_string());
            }
            config.push(c);
        }
        let mut containers = serde_json::Map::new();
        for e in self.networking().endpoints(&n.id) {
            containers.insert(e.container_id.clone(), endpoint_json(n, &e));
        }
        json!({
            "Name": n.name,
            "Id": n.id,
            "Created": n.created,
            "Scope": "local",
            "Driver": n.driver,
            "EnableIPv6": n.ipv6.is_some(),
            "IPAM": {"Driver": "default", "Options": if n.ipam_options_given { json!({}) } else { Value::Null }, "Config": config},
            "Internal": n.internal,
            "Attachable": false,
            "Ingress": false,
            "ConfigFrom": {"Network": ""},
            "ConfigOnly": false,
            "Containers": containers,
            // As Docker: the default bridge shows its device; a user-defined network shows the
            // options it was created with (none: compose compares them with its file's).
            "Options": if n.name == berth_network::DEFAULT_NETWORK {
                json!({"com.docker.network.bridge.name": n.bridge})
            } else {
                json!({})
            },
            "Labels": n.labels,
        })
    }

    /// `network create`.
    pub fn create_network(
        &self,
        o: &berth_network::CreateOptions,
    ) -> Result<berth_network::Network> {
        let n = self.networking().create(o)?;
        self.network_event("create", &n.id, &n.name, &n.driver, None);
        Ok(n)
    }

    /// `network rm`: the removed network's name.
    pub fn remove_network(&self, key: &str) -> Result<String> {
        let before = self.networking().get(key).ok();
        let name = self.networking().remove(key)?;
        if let Some(n) = before {
            self.network_event("destroy", &n.id, &n.name, &n.driver, None);
        }
        Ok(name)
    }

    /// `network prune` with Docker's filters (`until`, `label`, `label!`): the names of the
    /// networks removed.
    pub fn prune_networks(&self, filters: &[String]) -> Result<Vec<String>> {
        let f = crate::prune_filters::PruneFilters::parse(filters, &["until", "label", "label!"])?;
        let keep = |n: &berth_network::state::Network| {
            let created = chrono::DateTime::parse_from_rfc3339(&n.created)
                .ok()
                .and_then(|t| t.timestamp_nanos_opt())
                .unwrap_or(0);
            f.until.is_some_and(|u| created >= u) || !f.labels_pass(&Some(n.labels.clone()))
        };
        let before = self.networking().list()?;
        let removed = self.networking().prune(&keep)?;
        for n in before.iter().filter(|n| removed.contains(&n.name)) {
            self.network_event("destroy", &n.id, &n.name, &n.driver, None);
        }
        Ok(removed)
    }

    /// Records a network event; `container` for connect and disconnect.
    pub(crate) fn network_event(
        &self,
        action: &str,
        id: &str,
        name: &str,
        driver: &str,
        container: Option<&str>,
    ) {
        let mut attrs = vec![("name", name), ("type", driver)];
        if let Some(c) = container {
            attrs.push(("container", c));
        }
        let _ = self
            .journal()
            .record(&Event::now("network", action, id, &attrs));
    }

    /// A connect or disconnect event for `network` (as the user named it).
    pub(crate) fn attachment_event(&self, action: &str, network: &str, container_id: &str) {
        if let Ok(n) = self.networking().get(network) {
            self.network_event(action, &n.id, &n.name, &n.driver, Some(container_id));
        }
    }
}

/// IDs for the networks that are not bridges (`host`, `none`): fixed, derived from the name.
fn pseudo_id(name: &str) -> String {
    berth_image::digest::Digest::of(format!("berth-network-{name}").as_bytes())
        .hex()
        .to_string()
}

fn endpoint_json(n: &Network, e: &Endpoint) -> Value {
    json!({
        "Name": e.container_name,
        "EndpointID": format!("{}{}", &e.container_id[..32], &n.id[..32]),
        "MacAddress": e.mac_address(),
        "IPv4Address": format!("{}/{}", e.ip, n.subnet.prefix_len()),
        "IPv6Address": match (&n.ipv6, e.ip6) {
            (Some(v6), Some(ip)) => format!("{ip}/{}", v6.subnet.prefix_len()),
            _ => String::new(),
        },
    })
}
