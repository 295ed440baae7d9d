//! Container commands, one file per verb (as docker/cli's `cli/command/container/`): each
//! parses its flags, calls the engine (`berth_runtime`) and renders the engine's report.
//! What all commands share is `commands::shared` (errors, opening the engine); `foreground`
//! holds our streams and terminal for a container in the foreground; verb files never import
//! each other's commands.

mod attach;
mod commit;
mod cp;
mod diff;
mod exec;
mod export;
mod foreground;
mod inspect;
mod kill;
mod logs;
mod pause;
mod prune;
mod ps;
mod rename;
mod restart;
mod rm;
mod run;
mod start;
mod stats;
mod stop;
mod supervise;
mod top;
mod wait;

pub(crate) use super::run_flags::RunArgs;
pub(crate) use attach::{attach, AttachArgs};
pub(crate) use commit::{commit, CommitArgs};
pub(crate) use cp::{cp, split_container_path, CpArgs};
pub(crate) use diff::{diff, OneContainer};
pub(crate) use exec::{exec, ExecArgs};
pub(crate) use export::{export, ExportArgs};
pub(crate) use foreground::{attach_to_started, detach_keys, run_in_foreground};
pub(crate) use inspect::container_inspect;
pub(crate) use kill::{kill, KillArgs};
pub(crate) use logs::{logs, LogsArgs};
pub(crate) use pause::{pause, PauseArgs};
pub(crate) use prune::{prune, PruneArgs};
pub(crate) use ps::{command_text, ps, PsArgs};
pub(crate) use rename::{rename, RenameArgs};
pub(crate) use restart::{restart, RestartArgs};
pub(crate) use rm::{rm, RmArgs};
pub(crate) use run::{create, run};
pub(crate) use start::{start, StartArgs};
pub(crate) use stats::{stats, StatsArgs};
pub(crate) use stop::{stop, StopArgs};
pub(crate) use supervise::{supervise, supervise_exec};
pub(crate) use top::{print_top, top, TopArgs};
pub(crate) use wait::{wait, WaitArgs};
