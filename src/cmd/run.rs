//! `run`: the daemon. Loads and checks the settings, opens the logs and runs the main loop
//! (`crate::daemon`) until SIGTERM or SIGINT.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use super::{load_settings, refuse};
use crate::config::parse_command_line_duration;
use crate::outward::http;
use crate::outward::logging::{self, LogFormat};
use crate::zk::session::Refused;
use crate::{daemon, flink, outward};

/// `run`'s arguments.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct Args {
    /// The TOML configuration file (see config/flink-ha-supervisor.toml).
    #[arg(long, short)]
    config: PathBuf,
    /// Log line format on stdout.
    #[arg(long, value_enum, default_value = "json")]
    log_format: LogFormat,
    /// Tests only: SIGUSR2 blocks the main loop for this long (see notify::arm_fault_injection).
    #[arg(long, hide = true, value_parser = parse_command_line_duration)]
    fault_injection: Option<Duration>,
    /// Tests only: the daemon's task of this name panics as it starts (see supervise::arm_fault).
    #[arg(long, hide = true)]
    fault_panic_task: Option<String>,
}

/// Runs the daemon: exit code 0 after a shutdown on a signal, 2 for settings or an address that
/// cannot be used, 1 when the daemon failed.
pub(crate) fn main(args: Args) -> ExitCode {
    if let Some(block) = args.fault_injection {
        outward::systemd::arm_fault_injection(block);
    }
    if let Some(task) = args.fault_panic_task {
        daemon::supervise::arm_fault(task);
    }
    let (settings, mut warnings) = match load_settings(&args.config) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    if let Err(e) = settings.check_host() {
        return refuse(e);
    }
    match flink::preflight(&settings) {
        Ok(flink_warnings) => warnings.extend(flink_warnings),
        Err(e) => return refuse(e),
    }
    let _log_guard = match logging::init(args.log_format, settings.log.audit_file.as_deref()) {
        Ok(guard) => guard,
        Err(e) => {
            let path = settings.log.audit_file.as_deref().unwrap_or(Path::new("")).display();
            return refuse(format!("log.audit_file: cannot open {path}: {e}; point it at a writable file"));
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
        Err(e) if e.is::<http::BindError>() || e.is::<Refused>() => refuse(e),
        Err(e) => {
            tracing::error!(error = %e, "the daemon failed");
            ExitCode::from(1)
        }
    }
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
