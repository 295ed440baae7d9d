//! `berth compose …`, one file per verb: Compose's flags in, berth_compose's operations,
//! Compose's output out. Images come through `project::CliImages` (pull with the CLI's
//! credentials, build with the CLI's build), so compose behaves as `berth pull` and `berth build`
//! do.

mod command;
mod config;
mod cp;
mod down;
mod events;
mod exec;
mod images;
mod lifecycle;
mod logs;
mod ls;
mod output;
mod port;
mod project;
mod ps;
mod push;
mod run;
mod top;
mod up;

pub(crate) use command::{compose, ComposeArgs};
