//! A container's `inspect` JSON (the engine's report), for `berth inspect`.

use berth_runtime::record::ContainerRecord;
use berth_runtime::Runtime;
use serde_json::Value;

/// Docker-shaped `inspect` object of a container.
pub fn container_inspect(rt: &Runtime, c: &ContainerRecord) -> Value {
    rt.container_json(c)
}
