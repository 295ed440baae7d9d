//! `rmi` / `DELETE /images/{name}` / `compose down --rmi`: an image untagged or deleted by
//! the store, refused while a container uses it unless forced. Which images are in use is
//! known here, beside the containers; the image store knows nothing of them.

use berth_image::{Digest, RemoveEvent};

use crate::error::Result;
use crate::lifecycle::Runtime;

impl Runtime {
    /// Removes `name` (a tag, or the image with `force` or without other tags); returns what
    /// was untagged and deleted.
    pub fn remove_image(&self, name: &str, force: bool) -> Result<Vec<RemoveEvent>> {
        let used = self.images_in_use();
        let in_use = |d: &Digest| used.contains(&d.to_string());
        Ok(self.store.remove_image(name, force, &in_use)?)
    }
}
