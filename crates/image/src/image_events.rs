//! Image events for the journal (`berth events`): tag, untag, delete, import, load, save,
//! pull and push, recorded by whichever process did them, as Docker's daemon records them.

use berth_events::{Event, Journal};

use crate::digest::Digest;
use crate::images::RemoveEvent;
use crate::store::Store;

impl Store {
    /// The journal under this store's root.
    pub fn journal(&self) -> Journal {
        Journal::new(self.root())
    }

    /// Records an image event: `id` is the image ID or the reference acted on, `name` the
    /// reference. Best effort: a journal that cannot be written never fails the operation.
    pub fn image_event(&self, action: &str, id: &str, name: &str) {
        let _ = self
            .journal()
            .record(&Event::now("image", action, id, &[("name", name)]));
    }

    /// The untag and delete events of a removal. An untag belongs to the image deleted after
    /// it, or to `image` when only tags went.
    pub(crate) fn record_removals(&self, image: Option<&Digest>, events: &[RemoveEvent]) {
        let mut untagged: Vec<&str> = Vec::new();
        for e in events {
            match e {
                RemoveEvent::Untagged(t) => untagged.push(t),
                RemoveEvent::Deleted(d) => {
                    for t in untagged.drain(..) {
                        self.image_event("untag", &d.to_string(), t);
                    }
                    self.image_event("delete", &d.to_string(), &d.to_string());
                }
            }
        }
        if let Some(d) = image {
            for t in untagged {
                self.image_event("untag", &d.to_string(), t);
            }
        }
    }
}
