//! The `flink-ha-supervisor` command line: a thin shell over the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use flink_ha_supervisor::cmd::{audit, maintenance, status};
use flink_ha_supervisor::config::Settings;
use flink_ha_supervisor::outward::http;
use flink_ha_supervisor::outward::logging::{self, LogFormat};
use flink_ha_supervisor::process::guard;
use flink_ha_supervisor::{daemon, flink};

/// Keeps exactly one Flink JobManager running across hosts through a ZooKeeper election.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Join the election and run the local JobManager while this node leads.
    Run {
        /// The TOML configuration file (see config/flink-ha-supervisor.toml).
        #[arg(long, short)]
        config: PathBuf,
        /// Log line format on stdout.
        #[arg(long, value_enum, default_value = "json")]
        log_format: LogFormat,
        /// Tests only: SIGUSR2 blocks the main loop for this long (see notify::arm_fault_injection).
        #[arg(long, hide = true, value_parser = flink_ha_supervisor::config::parse_command_line_duration)]
        fault_injection: Option<Duration>,
        /// Tests only: the daemon's task of this name panics as it starts (see supervise::arm_fault).
        #[arg(long, hide = true)]
        fault_panic_task: Option<String>,
    },
    /// Validate the configuration as `run` would and print the effective settings.
    CheckConfig {
        /// The TOML configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Print the Flink config.yaml that `run` writes before it starts the JobManager ([flink]).
    RenderFlinkConfig {
        /// The TOML configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Make the JobManager's class-data-sharing archive (`jobmanager.cds_archive`): runs the
    /// JobManager once, outside the election and with Flink's HA off, and stops it; the JVM
    /// writes the archive as it exits. Run it on every host where no JobManager runs.
    MakeCdsArchive {
        /// The TOML configuration file.
        #[arg(long, short)]
        config: PathBuf,
        /// Longest wait for the JobManager to answer, and again for its stop with the dump.
        #[arg(long, value_parser = flink_ha_supervisor::config::parse_command_line_duration, default_value = "120s")]
        timeout: Duration,
    },
    /// Rebuild failovers, outages and overlaps from the daemons' logs (docs/audit-events.md).
    Audit(audit::Args),
    /// Show the election from ZooKeeper: the leader, every contender, the last failover. Exit 0
    /// healthy, 1 degraded (no leader or no standby), 2 unreachable or bad configuration.
    Status(status::Args),
    /// Maintenance mode on: no failover, restart or stop of the JobManager on the daemons' own initiative.
    Pause {
        /// The TOML configuration file (for the quorum and the election path).
        #[arg(long, short)]
        config: PathBuf,
        /// Why, for `status` and the logs.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Maintenance mode off; the daemons return to normal without a failover.
    Resume {
        /// The TOML configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// A planned switchover: the leader stops its JobManager and steps down.
    Handover {
        /// The TOML configuration file.
        #[arg(long, short)]
        config: PathBuf,
        /// The node that is to lead next (a live contender); default: the next in line.
        #[arg(long)]
        to: Option<String>,
        /// Return only when the new JobManager is ready, and print how long it took.
        #[arg(long)]
        wait: bool,
        /// How long `--wait` waits.
        #[arg(long, value_parser = flink_ha_supervisor::config::parse_command_line_duration, default_value = "60s")]
        timeout: Duration,
    },
    /// Internal: the fence guard between the daemon and its JobManager (see guard.rs).
    #[command(hide = true)]
    FenceGuard {
        /// SIGTERM to SIGKILL when the guard stops the JobManager on its own.
        #[arg(long, value_parser = flink_ha_supervisor::config::parse_command_line_duration)]
        stop_grace: Duration,
        /// The initial lease, CLOCK_BOOTTIME nanoseconds.
        #[arg(long)]
        lease_until_ns: u64,
        /// The JobManager's command.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { config, log_format, fault_injection, fault_panic_task } => {
            if let Some(block) = fault_injection {
                flink_ha_supervisor::outward::systemd::arm_fault_injection(block);
            }
            if let Some(task) = fault_panic_task {
                flink_ha_supervisor::daemon::supervise::arm_fault(task);
            }
            run(config, log_format)
        }
        Command::CheckConfig { config } => flink::cli::check_config(&config),
        Command::RenderFlinkConfig { config } => flink::cli::render_flink_config(&config),
        Command::MakeCdsArchive { config, timeout } => {
            flink_ha_supervisor::cmd::make_cds_archive::make_archive_main(&config, timeout)
        }
        Command::Audit(args) => audit::main(&args),
        Command::Status(args) => status::main(&args),
        Command::Pause { config, reason } => steer(&config, |s| Box::pin(maintenance::pause(s, reason))),
        Command::Resume { config } => steer(&config, |s| Box::pin(maintenance::resume(s))),
        Command::Handover { config, to, wait, timeout } => {
            steer(&config, |s| Box::pin(maintenance::handover(s, to, wait, timeout)))
        }
        Command::FenceGuard { stop_grace, lease_until_ns, command } => {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
            let code = runtime.block_on(guard::run(guard::GuardArgs { stop_grace, lease_until_ns, command }));
            // The read of stdin sits on a blocking thread that a normal runtime drop would wait for.
            runtime.shutdown_background();
            ExitCode::from(code.clamp(0, 255) as u8)
        }
    }
}

fn run(config: PathBuf, log_format: LogFormat) -> ExitCode {
    let (settings, mut warnings) = match Settings::load(&config) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("flink-ha-supervisor: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = settings.check_host() {
        eprintln!("flink-ha-supervisor: {e}");
        return ExitCode::from(2);
    }
    match flink::preflight(&settings) {
        Ok(flink_warnings) => warnings.extend(flink_warnings),
        Err(e) => {
            eprintln!("flink-ha-supervisor: {e}");
            return ExitCode::from(2);
        }
    }
    let _log_guard = match logging::init(log_format, settings.log.audit_file.as_deref()) {
        Ok(guard) => guard,
        Err(e) => {
            let path = settings.log.audit_file.as_deref().unwrap_or(std::path::Path::new("")).display();
            eprintln!("flink-ha-supervisor: log.audit_file: cannot open {path}: {e}; point it at a writable file");
            return ExitCode::from(2);
        }
    };
    for warning in &warnings {
        tracing::warn!(event = "config_warning", key = warning.key, "{}", warning.message);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("flink-ha-supervisor: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(daemon::run(settings, shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<http::BindError>() => {
            eprintln!("flink-ha-supervisor: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            tracing::error!(error = %e, "the daemon failed");
            ExitCode::from(1)
        }
    }
}

/// Runs one of the commands that steer the daemons through ZooKeeper; prints its outcome.
fn steer(
    config: &std::path::Path,
    command: impl for<'a> FnOnce(
        &'a Settings,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = maintenance::Outcome> + 'a>>,
) -> ExitCode {
    let settings = match Settings::load(config) {
        Ok((settings, _)) => settings,
        Err(e) => {
            eprintln!("flink-ha-supervisor: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let outcome = runtime.block_on(command(&settings));
    match &outcome {
        maintenance::Outcome::Done(text) => println!("{text}"),
        maintenance::Outcome::Refused(text) | maintenance::Outcome::Unreachable(text) => {
            eprintln!("flink-ha-supervisor: {text}")
        }
    }
    ExitCode::from(outcome.exit_code())
}

/// Resolves on the first SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
}
