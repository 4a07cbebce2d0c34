//! The hidden `fence-guard` command: the process the daemon puts between itself and its
//! JobManager (`crate::process::guard`).

use std::process::ExitCode;
use std::time::Duration;

use crate::config::parse_command_line_duration;
use crate::process::guard;

/// `fence-guard`'s arguments, passed by the daemon.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct Args {
    /// SIGTERM to SIGKILL when the guard stops the JobManager on its own.
    #[arg(long, value_parser = parse_command_line_duration)]
    stop_grace: Duration,
    /// The initial lease, CLOCK_BOOTTIME nanoseconds (none for a parked JobManager).
    #[arg(long, default_value_t = 0)]
    lease_until_ns: u64,
    /// Start the JobManager parked at its gate, without a lease, until a `release` line.
    #[arg(long)]
    parked: bool,
    /// The JobManager's command.
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

/// Runs the guard until its JobManager exits; its exit code is the JobManager's.
pub(crate) fn main(args: Args) -> ExitCode {
    let Args { stop_grace, lease_until_ns, parked, command } = args;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let code = runtime.block_on(guard::run(guard::GuardArgs { stop_grace, lease_until_ns, parked, command }));
    // The read of stdin sits on a blocking thread that a normal runtime drop would wait for.
    runtime.shutdown_background();
    ExitCode::from(code.clamp(0, 255) as u8)
}
