//! `berth compose images`.

use anyhow::Result;
use berth_compose::project_containers::project_containers;
use berth_compose::Project;

use super::project::fail;

pub(crate) fn images(rt: &berth_runtime::Runtime, p: &Project, services: &[String]) -> Result<u8> {
    let store = berth_image::Store::open(rt.root())?;
    let mut text = String::from("CONTAINER\tREPOSITORY\tTAG\tIMAGE ID\tSIZE\n");
    for c in project_containers(rt, &p.name, false).map_err(fail)? {
        if !services.is_empty() && !services.contains(&c.service) {
            continue;
        }
        let (repo, tag) = match c
            .record
            .image
            .rsplit_once(':')
            .filter(|(_, t)| !t.contains('/'))
        {
            Some((r, t)) => (r.to_string(), t.to_string()),
            None => (c.record.image.clone(), "latest".to_string()),
        };
        let size = store
            .lookup(&c.record.image)
            .map(|i| i.manifest.layers().iter().map(|l| l.size()).sum::<u64>())
            .unwrap_or(0);
        let id = c.record.image_id.trim_start_matches("sha256:");
        text.push_str(&format!(
            "{}\t{repo}\t{tag}\t{}\t{}\n",
            c.record.name,
            &id[..id.len().min(12)],
            crate::output::human_size(size)
        ));
    }
    print!("{}", crate::output::tabulate(&text));
    Ok(0)
}
