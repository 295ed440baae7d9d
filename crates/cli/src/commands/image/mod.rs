//! Image commands, one file per verb (as docker/cli's `cli/command/image/`): each parses its
//! flags, calls the image store or the engine and renders the report.

mod df;
mod history;
mod images;
mod import;
mod inspect;
mod load;
mod prune;
mod rmi;
mod save;
mod store;
mod tag;

pub(crate) use df::{system_df, DfArgs};
pub(crate) use history::{history, HistoryArgs};
pub(crate) use images::{images, ImagesArgs};
pub(crate) use import::{import, ImportArgs};
pub(crate) use inspect::{inspect, InspectArgs};
pub(crate) use load::{load, LoadArgs};
pub(crate) use prune::{prune, PruneArgs};
pub(crate) use rmi::{rmi, RmiArgs};
pub(crate) use save::{save, SaveArgs};
pub(crate) use tag::{tag, TagArgs};
