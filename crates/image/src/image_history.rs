//! `docker history` and `GET /images/{name}/history`: an image's steps, newest first, each
//! with the size of the layer it added (0 for steps that added none). Only the newest step
//! has an ID (the image's), as with images Docker pulled.

use crate::config::History;
use crate::images::Image;
use crate::store::Store;

/// One step, with Docker's fields.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HistoryEntry {
    /// The image's ID on the newest step, `<missing>` on the others.
    pub id: String,
    /// Unix seconds (0 when the step has no time).
    pub created: i64,
    pub created_by: String,
    /// The image's tags on the newest step.
    pub tags: Option<Vec<String>>,
    pub size: u64,
    pub comment: String,
    /// The time as the image config has it (RFC 3339), for front ends that show it.
    #[serde(skip)]
    pub created_at: Option<String>,
}

impl Store {
    pub fn history(&self, img: &Image) -> Vec<HistoryEntry> {
        let mut layer_sizes = img
            .chain_ids()
            .into_iter()
            .map(|c| self.layer_info(&c).map(|i| i.size).unwrap_or(0));
        let steps = if img.config.history.is_empty() {
            // Images without history: one step per layer.
            vec![History::default(); img.diff_ids().len().max(1)]
        } else {
            img.config.history.clone()
        };
        let mut out: Vec<HistoryEntry> = steps
            .iter()
            .map(|h| HistoryEntry {
                id: "<missing>".into(),
                created: h
                    .created
                    .as_deref()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    .map_or(0, |t| t.timestamp()),
                created_by: h.created_by.clone().unwrap_or_default(),
                tags: None,
                size: if h.empty_layer {
                    0
                } else {
                    layer_sizes.next().unwrap_or(0)
                },
                comment: h.comment.clone().unwrap_or_default(),
                created_at: h.created.clone(),
            })
            .collect();
        out.reverse();
        if let Some(top) = out.first_mut() {
            top.id = img.id().to_string();
            top.tags = Some(img.tags.clone());
        }
        out
    }
}
