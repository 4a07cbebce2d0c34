//! The command line of `flink-ha-supervisor`: its subcommands, each in a module of its own, and
//! the one way they load the settings ([`load_settings`]).
//!
//! * [`run`]: the daemon.
//! * [`status`]: the election as ZooKeeper holds it; [`watch`]: `status --watch`.
//! * [`target`]: where the client commands find the election (`--config`, `--quorum`, ...).
//! * [`maintenance`]: `pause`, `resume` and `handover`.
//! * [`audit`]: failovers, outages and overlaps rebuilt from the daemons' logs.
//! * [`check_config`]: the `check-config` command.
//! * [`render_flink_config`]: the `render-flink-config` command.
//! * [`make_cds_archive`]: the `make-cds-archive` command.
//! * [`jobmanager_command`]: `jobmanager-command`, the JobManager's command line as `run` starts it.
//! * [`fence_guard`]: the hidden `fence-guard`, the process between the daemon and its JobManager.
//! * [`package_files`]: the hidden `package-files`, the man pages and shell completions.

pub(crate) mod audit;
pub(crate) mod check_config;
pub(crate) mod fence_guard;
pub(crate) mod jobmanager_command;
pub(crate) mod maintenance;
pub(crate) mod make_cds_archive;
pub(crate) mod package_files;
pub(crate) mod render_flink_config;
pub(crate) mod run;
pub(crate) mod status;
pub(crate) mod target;
pub(crate) mod watch;

use std::fmt::Display;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};

use crate::config::{self, ConfigWarning, Settings};

/// Keeps exactly one Flink JobManager running across hosts through a ZooKeeper election.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// `JobmanagerCommand` ends in the enum's name because the subcommand is `jobmanager-command`.
#[allow(clippy::enum_variant_names)]
#[derive(Subcommand)]
enum Command {
    /// Join the election and run the local JobManager while this node leads.
    Run(run::Args),
    /// Validate the configuration as `run` would and print the effective settings.
    CheckConfig(ConfigFile),
    /// Print the Flink config.yaml that `run` writes before it starts the JobManager ([flink]),
    /// or with `--for taskmanager` the one for TaskManagers and clients.
    RenderFlinkConfig(render_flink_config::Args),
    /// Make the JobManager's class-data-sharing archive (`jobmanager.cds_archive`): runs the
    /// JobManager once, outside the election and with Flink's HA off, and stops it; the JVM
    /// writes the archive as it exits. Run it on every host where no JobManager runs.
    MakeCdsArchive {
        /// The TOML configuration file.
        #[arg(long, short)]
        config: PathBuf,
        /// Longest wait for the JobManager to answer, and again for its stop with the dump.
        #[arg(long, value_parser = config::parse_command_line_duration, default_value = "120s")]
        timeout: Duration,
    },
    /// Print the command line `run` starts the JobManager with (`jobmanager.launch`), as JSON;
    /// with "direct", resolved from Flink's scripts without starting a JobManager.
    JobmanagerCommand(ConfigFile),
    /// Rebuild failovers, outages and overlaps from the daemons' logs (docs/audit-events.md).
    Audit(audit::Args),
    /// Show the election from ZooKeeper: the leader, every contender, the last failover. Exit 0
    /// healthy, 1 degraded (no leader or no standby), 2 unreachable or bad configuration.
    Status(status::Args),
    /// Maintenance mode on: no failover, restart or stop of the JobManager on the daemons' own initiative.
    Pause(maintenance::PauseArgs),
    /// Maintenance mode off; the daemons return to normal without a failover.
    Resume(maintenance::ResumeArgs),
    /// A planned switchover: the leader stops its JobManager and steps down.
    Handover(maintenance::HandoverArgs),
    /// Internal: the fence guard between the daemon and its JobManager (see guard.rs).
    #[command(hide = true)]
    FenceGuard(fence_guard::Args),
    /// Internal: write the man pages and shell completions for a package (scripts/build-deb).
    #[command(hide = true)]
    PackageFiles(package_files::Args),
}

/// The arguments of a command that needs only the configuration.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct ConfigFile {
    /// The TOML configuration file.
    #[arg(long, short)]
    pub(crate) config: PathBuf,
}

/// Parses the command line and runs the command; returns its exit code.
pub fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Run(args) => run::main(args),
        Command::CheckConfig(args) => check_config::main(&args.config),
        Command::RenderFlinkConfig(args) => render_flink_config::main(&args),
        Command::MakeCdsArchive { config, timeout } => make_cds_archive::main(&config, timeout),
        Command::JobmanagerCommand(args) => jobmanager_command::main(&args.config),
        Command::Audit(args) => audit::main(&args),
        Command::Status(args) => status::main(&args),
        Command::Pause(args) => maintenance::pause_main(args),
        Command::Resume(args) => maintenance::resume_main(&args),
        Command::Handover(args) => maintenance::handover_main(args),
        Command::FenceGuard(args) => fence_guard::main(args),
        Command::PackageFiles(args) => package_files::main(&args, Cli::command()),
    }
}

/// Loads the settings as `run` does (file, `FHS_` environment, defaults, validation); a refused
/// configuration is printed in one line and `Err` holds exit code 2.
/// With Kerberos it also hands the keytab to the GSSAPI library, before any thread starts.
pub(crate) fn load_settings(path: &Path) -> Result<(Settings, Vec<ConfigWarning>), ExitCode> {
    let loaded = Settings::load(path).map_err(refuse)?;
    crate::zk::kerberos::export_environment(&loaded.0.zookeeper);
    Ok(loaded)
}

/// [`load_settings`] without reading the daemons' ZooKeeper secrets (password, TLS files), for a
/// command that only prints what the settings say and may run where those secrets are not.
pub(crate) fn load_settings_without_secrets(path: &Path) -> Result<(Settings, Vec<ConfigWarning>), ExitCode> {
    Settings::load_as(path, config::DaemonSecrets::Skip).map_err(refuse)
}

/// Prints `why` in one line on stderr; exit code 2, a configuration or environment that cannot
/// be used.
pub(crate) fn refuse(why: impl Display) -> ExitCode {
    eprintln!("flink-ha-supervisor: {why}");
    ExitCode::from(2)
}

/// Prints the configuration's warnings on stderr, one line each, prefixed `warning:`.
pub(crate) fn print_warnings(warnings: &[ConfigWarning]) {
    for warning in warnings {
        eprintln!("flink-ha-supervisor: warning: {warning}");
    }
}

/// Prints a command's result on stdout; a closed pipe (`| head`) is not an error worth a panic.
pub(crate) fn emit(text: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
    ExitCode::SUCCESS
}
