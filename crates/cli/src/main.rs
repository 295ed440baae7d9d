//! `berth`: Docker's commands and flags over berth's libraries. This crate only parses
//! arguments, calls the libraries and prints; the work lives in the library crates.

mod build_progress;
mod commands;
mod output;
mod template;
mod terminal;
mod usage_error;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use commands::container as ctr;
use commands::image as img;

#[derive(Parser)]
#[command(
    name = "berth",
    version,
    about = "A Docker-compatible container engine: one binary, no daemon",
    disable_help_subcommand = true
)]
struct Cli {
    /// State directory (images, layers, containers)
    #[arg(
        long,
        global = true,
        env = "BERTH_ROOT",
        default_value = "/var/lib/berth",
        value_name = "DIR"
    )]
    root: PathBuf,
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create and run a new container from an image
    Run(ctr::RunArgs),
    /// Create a new container
    Create(ctr::RunArgs),
    /// Start one or more stopped containers
    Start(ctr::StartArgs),
    /// List containers
    Ps(ctr::PsArgs),
    /// Fetch the logs of a container
    Logs(ctr::LogsArgs),
    /// Execute a command in a running container
    Exec(ctr::ExecArgs),
    /// Stop one or more running containers
    Stop(ctr::StopArgs),
    /// Kill one or more running containers
    Kill(ctr::KillArgs),
    /// Remove one or more containers
    Rm(ctr::RmArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(ctr::WaitArgs),
    /// Restart one or more containers
    Restart(ctr::RestartArgs),
    /// Rename a container
    Rename(ctr::RenameArgs),
    /// Pause all processes within one or more containers
    Pause(ctr::PauseArgs),
    /// Unpause all processes within one or more containers
    Unpause(ctr::PauseArgs),
    /// Create a new image from a container's changes
    Commit(ctr::CommitArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(ctr::OneContainer),
    /// Export a container's filesystem as a tar archive
    Export(ctr::ExportArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(ctr::CpArgs),
    /// Update configuration of one or more containers
    Update(commands::update::UpdateArgs),
    /// Display the running processes of a container
    Top(ctr::TopArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(ctr::StatsArgs),
    /// Attach to a running container's output
    Attach(ctr::AttachArgs),
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCommand),
    #[command(name = "__exec", hide = true)]
    ExecSupervise { id: String, exec_id: String },
    #[command(name = "__supervise", hide = true)]
    Supervise {
        #[arg(required_unless_present = "standby")]
        id: Option<String>,
        /// A client attaches next: keep the output for it.
        #[arg(long)]
        await_client: bool,
        /// Wait for the container to supervise on BERTH_READY_FD (`berth serve`).
        #[arg(long, conflicts_with_all = ["id", "await_client"])]
        standby: bool,
    },
    /// List images
    Images(img::ImagesArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(img::ImportArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(img::TagArgs),
    /// Remove one or more images
    Rmi(img::RmiArgs),
    /// Show the history of an image
    History(img::HistoryArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(img::SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(img::LoadArgs),
    /// Return low-level information on objects
    Inspect(img::InspectArgs),
    /// Build an image from a Dockerfile
    Build(commands::build::BuildArgs),
    /// Manage builds
    #[command(subcommand)]
    Builder(commands::build::BuilderCommand),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Manage volumes
    #[command(subcommand)]
    Volume(commands::volume::VolumeCommand),
    /// Define and run multi-container applications (Compose files)
    Compose(commands::compose::ComposeArgs),
    /// Manage networks
    #[command(subcommand)]
    Network(commands::network::NetworkCommand),
    /// Download an image from a registry
    Pull(commands::registry::PullArgs),
    /// Upload an image to a registry
    Push(commands::registry::PushArgs),
    /// Log in to a registry
    Login(commands::registry::LoginArgs),
    /// Log out from a registry
    Logout(commands::registry::LogoutArgs),
    /// List port mappings or a specific mapping for the container
    Port(commands::network::PortArgs),
    #[command(name = "__dns", hide = true)]
    Dns { network_id: String },
    /// Get real time events from the server
    Events(commands::events::EventsArgs),
    /// Display system-wide information
    Info(commands::info::InfoArgs),
    /// Manage berth
    #[command(subcommand)]
    System(SystemCommand),
    /// Serve the Docker Engine API (for the docker CLI, docker-py, compose)
    Serve(commands::serve::ServeArgs),
    /// Show the berth version information
    Version(commands::version::VersionArgs),
}

#[derive(Subcommand)]
enum ImageCommand {
    /// List images
    #[command(alias = "list")]
    Ls(img::ImagesArgs),
    /// Remove one or more images
    #[command(alias = "remove")]
    Rm(img::RmiArgs),
    /// Display detailed information on one or more images
    Inspect(img::InspectArgs),
    /// Remove unused images
    Prune(img::PruneArgs),
    /// Show the history of an image
    History(img::HistoryArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(img::TagArgs),
    /// Save one or more images to a tar archive
    Save(img::SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(img::LoadArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(img::ImportArgs),
    /// Download an image from a registry
    Pull(commands::registry::PullArgs),
    /// Upload an image to a registry
    Push(commands::registry::PushArgs),
}

#[derive(Subcommand)]
enum ContainerCommand {
    /// Create and run a new container from an image
    Run(ctr::RunArgs),
    /// Create a new container
    Create(ctr::RunArgs),
    /// Start one or more stopped containers
    Start(ctr::StartArgs),
    /// List containers
    #[command(alias = "ps", alias = "list")]
    Ls(ctr::PsArgs),
    /// Fetch the logs of a container
    Logs(ctr::LogsArgs),
    /// Stop one or more running containers
    Stop(ctr::StopArgs),
    /// Kill one or more running containers
    Kill(ctr::KillArgs),
    /// Remove one or more containers
    #[command(alias = "remove")]
    Rm(ctr::RmArgs),
    /// Block until one or more containers stop
    Wait(ctr::WaitArgs),
    /// Execute a command in a running container
    Exec(ctr::ExecArgs),
    /// Display detailed information on one or more containers
    Inspect(img::InspectArgs),
    /// Restart one or more containers
    Restart(ctr::RestartArgs),
    /// Rename a container
    Rename(ctr::RenameArgs),
    /// Pause all processes within one or more containers
    Pause(ctr::PauseArgs),
    /// Unpause all processes within one or more containers
    Unpause(ctr::PauseArgs),
    /// Remove all stopped containers
    Prune(ctr::PruneArgs),
    /// Create a new image from a container's changes
    Commit(ctr::CommitArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(ctr::OneContainer),
    /// Export a container's filesystem as a tar archive
    Export(ctr::ExportArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(ctr::CpArgs),
    /// Update configuration of one or more containers
    Update(commands::update::UpdateArgs),
    /// Display the running processes of a container
    Top(ctr::TopArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(ctr::StatsArgs),
    /// List port mappings or a specific mapping for the container
    Port(commands::network::PortArgs),
}

#[derive(Subcommand)]
enum SystemCommand {
    /// Show disk usage
    Df(img::DfArgs),
    /// Get real time events from the server
    Events(commands::events::EventsArgs),
    /// Display system-wide information
    Info(commands::info::InfoArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return usage_error::report(&e, std::env::args().skip(1).collect()),
    };
    // Listing commands stop quietly when the reader of their output goes away
    // (`berth images | head`), like other Unix tools. Commands that run containers keep
    // SIGPIPE ignored: the runtime writes to pipes whose other end may already be gone (a
    // container that exited at once), and that must be an error it handles, not our death.
    // So does the server (a client that leaves mid-build closes what a RUN step writes to:
    // with SIGPIPE at its default, `berth serve` died silently) and the builder.
    let runs_containers = matches!(
        cli.cmd,
        Command::Serve(_)
            | Command::Build(_)
            | Command::Run(_)
            | Command::Start(_)
            | Command::Exec(_)
            | Command::Restart(_)
            | Command::Attach(_)
            | Command::Supervise { .. }
            | Command::ExecSupervise { .. }
            | Command::Dns { .. }
            | Command::Container(_)
    );
    if !runs_containers {
        // SAFETY: setting a signal disposition before any thread starts.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    // Docker's 125 ("the engine failed") is for run and create; other commands fail with 1.
    let creates = matches!(
        cli.cmd,
        Command::Run(_)
            | Command::Create(_)
            | Command::Container(ContainerCommand::Run(_) | ContainerCommand::Create(_))
    );
    // berth has no rootless mode yet: say so before touching the store, instead of failing
    // later on a raw "Permission denied" for an internal path or a mount.
    let needs_root = !matches!(
        cli.cmd,
        Command::Version(_) | Command::Login(_) | Command::Logout(_)
    );
    // SAFETY: geteuid has no preconditions and cannot fail.
    if needs_root && unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "Error: berth needs root: run it as root or with sudo (rootless mode is not supported yet)"
        );
        return ExitCode::from(1);
    }
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("Error: {}", usage_error::error_text(&e));
            // Engine errors carry Docker's exit codes (125, 126, 127).
            let code = match e.downcast_ref::<commands::shared::ExitError>() {
                Some(x) if x.code == 125 && !creates => 1,
                Some(x) => x.code,
                None => 1,
            };
            ExitCode::from(code)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    // An absolute root: paths under it end up in OCI specs and in other processes' records.
    let root = std::path::absolute(&cli.root).unwrap_or(cli.root);
    match cli.cmd {
        Command::Run(a) | Command::Container(ContainerCommand::Run(a)) => ctr::run(&root, a),
        Command::Create(a) | Command::Container(ContainerCommand::Create(a)) => {
            ctr::create(&root, a)
        }
        Command::Start(a) | Command::Container(ContainerCommand::Start(a)) => ctr::start(&root, a),
        Command::Ps(a) | Command::Container(ContainerCommand::Ls(a)) => ctr::ps(&root, a),
        Command::Logs(a) | Command::Container(ContainerCommand::Logs(a)) => ctr::logs(&root, a),
        Command::Stop(a) | Command::Container(ContainerCommand::Stop(a)) => ctr::stop(&root, a),
        Command::Exec(a) | Command::Container(ContainerCommand::Exec(a)) => ctr::exec(&root, a),
        Command::Kill(a) | Command::Container(ContainerCommand::Kill(a)) => ctr::kill(&root, a),
        Command::Rm(a) | Command::Container(ContainerCommand::Rm(a)) => ctr::rm(&root, a),
        Command::Wait(a) | Command::Container(ContainerCommand::Wait(a)) => ctr::wait(&root, a),
        Command::Container(ContainerCommand::Inspect(mut a)) => {
            a.kind = Some("container".into());
            img::inspect(&root, a, false)
        }
        Command::Serve(a) => commands::serve::serve(&root, a),
        Command::Supervise {
            id,
            await_client,
            standby,
        } => ctr::supervise(&root, id.as_deref(), await_client, standby),
        Command::ExecSupervise { id, exec_id } => ctr::supervise_exec(&root, &id, &exec_id),
        Command::Restart(a) | Command::Container(ContainerCommand::Restart(a)) => {
            ctr::restart(&root, a)
        }
        Command::Rename(a) | Command::Container(ContainerCommand::Rename(a)) => {
            ctr::rename(&root, a)
        }
        Command::Pause(a) | Command::Container(ContainerCommand::Pause(a)) => {
            ctr::pause(&root, a, true)
        }
        Command::Unpause(a) | Command::Container(ContainerCommand::Unpause(a)) => {
            ctr::pause(&root, a, false)
        }
        Command::Container(ContainerCommand::Prune(a)) => ctr::prune(&root, a),
        Command::Commit(a) | Command::Container(ContainerCommand::Commit(a)) => {
            ctr::commit(&root, a)
        }
        Command::Diff(a) | Command::Container(ContainerCommand::Diff(a)) => ctr::diff(&root, a),
        Command::Export(a) | Command::Container(ContainerCommand::Export(a)) => {
            ctr::export(&root, a)
        }
        Command::Cp(a) | Command::Container(ContainerCommand::Cp(a)) => ctr::cp(&root, a),
        Command::Update(a) | Command::Container(ContainerCommand::Update(a)) => {
            commands::update::update(&root, a)
        }
        Command::Top(a) | Command::Container(ContainerCommand::Top(a)) => ctr::top(&root, a),
        Command::Stats(a) | Command::Container(ContainerCommand::Stats(a)) => ctr::stats(&root, a),
        Command::Attach(a) => ctr::attach(&root, a),
        Command::Images(a) | Command::Image(ImageCommand::Ls(a)) => img::images(&root, a),
        Command::Import(a) | Command::Image(ImageCommand::Import(a)) => img::import(&root, a),
        Command::Tag(a) | Command::Image(ImageCommand::Tag(a)) => img::tag(&root, a),
        Command::Rmi(a) | Command::Image(ImageCommand::Rm(a)) => img::rmi(&root, a),
        Command::History(a) | Command::Image(ImageCommand::History(a)) => img::history(&root, a),
        Command::Save(a) | Command::Image(ImageCommand::Save(a)) => img::save(&root, a),
        Command::Load(a) | Command::Image(ImageCommand::Load(a)) => img::load(&root, a),
        Command::Inspect(a) => img::inspect(&root, a, false),
        Command::Image(ImageCommand::Inspect(a)) => img::inspect(&root, a, true),
        Command::Image(ImageCommand::Prune(a)) => img::prune(&root, a),
        Command::System(SystemCommand::Df(a)) => img::system_df(&root, a),
        Command::Info(a) | Command::System(SystemCommand::Info(a)) => {
            commands::info::info(&root, a)
        }
        Command::Events(a) | Command::System(SystemCommand::Events(a)) => {
            commands::events::events(&root, a)
        }
        Command::Build(a) => commands::build::build(&root, a),
        Command::Builder(commands::build::BuilderCommand::Prune(a)) => {
            commands::build::prune(&root, a)
        }
        Command::Volume(c) => commands::volume::volume(&root, c),
        Command::Compose(a) => commands::compose::compose(&root, a),
        Command::Network(c) => commands::network::network(&root, c),
        Command::Pull(a) | Command::Image(ImageCommand::Pull(a)) => {
            commands::registry::pull(&root, a)
        }
        Command::Push(a) | Command::Image(ImageCommand::Push(a)) => {
            commands::registry::push(&root, a)
        }
        Command::Login(a) => commands::registry::login(a),
        Command::Logout(a) => commands::registry::logout(a),
        Command::Port(a) | Command::Container(ContainerCommand::Port(a)) => {
            commands::network::port(&root, a)
        }
        Command::Dns { network_id } => {
            let ready = berth_network::daemonize::ready_pipe();
            berth_network::dns::serve(&berth_network::default_dir(), &network_id, ready)?;
            Ok(0)
        }
        Command::Version(a) => commands::version::version(a),
    }
}

#[cfg(test)]
mod tests {
    /// clap's own checks of every command's definition (clashing names, groups), which it
    /// otherwise only runs when that command is first used.
    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
