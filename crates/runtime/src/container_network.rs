//! `network connect` / `disconnect` of a container, and clean-up after killed processes.

use crate::error::{Error, Result};
use crate::lifecycle::{bridged, Runtime};
use crate::record::Status;

impl Runtime {
    /// `network connect`: a running container gets the new interface at once.
    pub fn connect(
        &self,
        key: &str,
        network: &str,
        endpoint: &crate::container_config::EndpointSettings,
    ) -> Result<()> {
        let c = self.find(key)?;
        if !bridged(&c.config.network) {
            return Err(Error::Conflict(format!(
                "container cannot be connected to multiple networks with one of the networks in {} mode",
                c.config.network
            )));
        }
        let unsupported = endpoint.unsupported_fields();
        if !unsupported.is_empty() {
            return Err(Error::Invalid(format!(
                "berth does not support {} in an endpoint's settings",
                unsupported.join(", ")
            )));
        }
        let attachment = crate::container_create::endpoint_attachment(network, Some(endpoint), "")?;
        let pid = (c.state.status == Status::Running && c.state.pid > 0).then_some(c.state.pid);
        self.network.connect(
            &c.id,
            &c.name,
            &self.containers.dir(&c.id),
            &attachment,
            pid,
        )?;
        self.attachment_event("connect", network, &c.id);
        Ok(())
    }

    /// `network disconnect`.
    pub fn disconnect(&self, key: &str, network: &str) -> Result<()> {
        let c = self.find(key)?;
        self.network.disconnect(&c.id, &c.name, network)?;
        self.attachment_event("disconnect", network, &c.id);
        Ok(())
    }

    /// Cleans network leftovers of berth processes that were killed.
    pub fn reconcile_network(&self) -> Result<()> {
        self.network.reconcile()?;
        Ok(())
    }
}
