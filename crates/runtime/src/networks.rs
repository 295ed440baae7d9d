//! Network operations as front ends call them: berth-network's, plus Docker's network events
//! (create, destroy, connect, disconnect) in the journal of this runtime's root.

use berth_events::Event;

use crate::error::Result;
use crate::lifecycle::Runtime;

impl Runtime {
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

    /// `network prune`: the names of the networks removed.
    pub fn prune_networks(&self) -> Result<Vec<String>> {
        let before = self.networking().list()?;
        let removed = self.networking().prune()?;
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
