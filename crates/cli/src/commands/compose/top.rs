//! `berth compose top`.

use anyhow::Result;
use berth_compose::project_containers::ServiceContainer;
use berth_compose::{Engine, Project};

use super::project::fail;
use crate::commands::shared::engine_error;

/// `compose top`: each running container's processes, under its name.
pub(crate) fn top(engine: &Engine, p: &Project, services: &[String]) -> Result<u8> {
    let mut cs: Vec<ServiceContainer> = engine
        .containers_of(p, services)
        .map_err(fail)?
        .into_iter()
        .filter(|c| c.record.state.running())
        .collect();
    cs.sort_by(|a, b| a.record.name.cmp(&b.record.name));
    for c in &cs {
        let r = engine.rt.top(&c.record.id, &[]).map_err(engine_error)?;
        println!("{}", c.record.name);
        crate::commands::container::print_top(&r);
        println!();
    }
    Ok(0)
}
