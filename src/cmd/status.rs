//! `flink-ha-supervisor status [--config FILE] [--quorum ...] [--format text|json] [--watch
//! [INTERVAL]]`: the election as ZooKeeper holds it, read directly, so it answers whatever the
//! local daemon does (even when it is down), from any machine that reaches ZooKeeper.
//!
//! It reads every child of `election.path`, the leader record (`<election.path>-record`) and the
//! operator controls (`-pause`, `-handover`); `flink_ha_core::status` judges them and writes the
//! text. Exit codes: 0 healthy, 1 degraded (no leader, or no standby: the next failure is an
//! outage), 2 unusable configuration, ZooKeeper unreachable, or no cluster there (a chroot that
//! does not exist, which `status` never creates). `--watch` is `super::watch`'s.

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use zookeeper_client as zk;

use super::target::Target;
use crate::config::ClientSettings;
use crate::zk::chroot;
use crate::zk::contenders::read_children;
use crate::zk::session::{self, ConnectError, Refused, Unreachable, ZkTarget};
use flink_ha_core::controls::{handover_path, pause_path};
use flink_ha_core::failover;
use flink_ha_core::status::{assess, render_text, Snapshot, StatusReport};
use flink_ha_core::walltime;

/// How long closing the session may delay the exit.
const CLOSE_WAIT: Duration = Duration::from_millis(500);

/// The most `status` reads of the local daemon's `/status` body (a daemon's is a few KiB).
const LOCAL_STATUS_CAP: usize = 1 << 20;

/// The `status` subcommand's arguments.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct Args {
    /// Where the election is.
    #[command(flatten)]
    pub target: Target,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Redraw the status every INTERVAL (default 2s; "500ms", "0.5" seconds) until Ctrl-C. On a
    /// terminal the screen is cleared for each; otherwise each snapshot follows the last, after
    /// a blank line and its time (JSON: one object a line).
    #[arg(long, short = 'W', value_name = "INTERVAL", num_args = 0..=1, default_missing_value = "2s")]
    pub watch: Option<String>,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// A table of the contenders, then the leader, the last failover and the verdict.
    Text,
    /// One JSON object, [`StatusReport`] (README.md, "Operating it").
    #[value(help = "One JSON object, [`Report`] (README.md, \"Operating it\")")]
    Json,
}

/// Reads everything `status` shows. A node that vanishes between listing and reading is skipped.
pub(crate) async fn read(client: &zk::Client, election_path: &str) -> Result<Snapshot, zk::Error> {
    let optional = |result: Result<(Vec<u8>, zk::Stat), zk::Error>| match result {
        Ok(found) => Ok(Some(found)),
        Err(zk::Error::NoNode) => Ok(None),
        Err(e) => Err(e),
    };
    Ok(Snapshot {
        children: read_children(client, election_path).await?,
        record: optional(client.get_data(&failover::record_path(election_path)).await)?
            .map(|(data, stat)| (data, stat.mtime)),
        pause: optional(client.get_data(&pause_path(election_path)).await)?.map(|(data, _)| data),
        handover: optional(client.get_data(&handover_path(election_path)).await)?.map(|(data, _)| data),
    })
}

/// Why `status` could not answer (exit code 2); displays as one line.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StatusError {
    /// No session could be made.
    #[error(transparent)]
    Unreachable(#[from] Unreachable),
    /// ZooKeeper refused this identity, its TLS, or its reading of the daemons' nodes.
    #[error(transparent)]
    Refused(#[from] Refused),
    /// The session was made, but reading failed.
    #[error("cannot read {path} from ZooKeeper at {quorum}: {why}")]
    Read {
        /// `zookeeper.quorum`.
        quorum: String,
        /// `election.path`.
        path: String,
        /// What happened.
        why: String,
    },
    /// The quorum's chroot does not exist: no daemon ever ran there.
    #[error("{0}")]
    NoCluster(String),
    /// The local daemon's `/status` (`http.listen`) sent a body above [`LOCAL_STATUS_CAP`].
    #[error("{url} sent more than {cap} bytes, which is no daemon's /status; check that http.listen names this host's flink-ha-supervisor")]
    LocalStatusTooLarge {
        /// The URL asked.
        url: String,
        /// The cap, in bytes.
        cap: usize,
    },
}

/// Connects, reads and judges the election.
pub(crate) async fn status(settings: &ClientSettings) -> Result<StatusReport, StatusError> {
    let quorum = &settings.zookeeper.quorum;
    let target = ZkTarget::of_zookeeper(&settings.zookeeper);
    let client = match target.connect().await {
        Ok(client) => client,
        Err(ConnectError::Unreachable(e)) => return Err(e.into()),
        Err(ConnectError::Refused(e)) => return Err(e.into()),
    };
    let path = &settings.election.path;
    let read_limit = settings.zookeeper.session_timeout;
    let read = tokio::time::timeout(read_limit, async {
        match chroot::missing(&client, quorum).await? {
            Some(chroot) => Ok(Err(chroot)),
            None => read(&client, path).await.map(Ok),
        }
    })
    .await;
    session::close(client, CLOSE_WAIT).await;
    let why = match read {
        Ok(Ok(Err(chroot))) => return Err(StatusError::NoCluster(chroot::no_cluster(quorum, &chroot))),
        Ok(Ok(Ok(snapshot))) => {
            let mut report = assess(&snapshot, quorum, path, settings.jobmanager_count);
            report.parked_here = parked_here(settings).await?;
            return Ok(report);
        }
        Ok(Err(zk::Error::NoAuth)) => return Err(target.denied("reading", path).into()),
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no answer within {}", walltime::format_duration(read_limit)),
    };
    Err(StatusError::Read { quorum: quorum.clone(), path: path.clone(), why })
}

/// The parked JobManager of the daemon on this host, from its own `/status` (`http.listen`),
/// asked once with a short timeout; `None` when it has none or does not answer, an error when it
/// answers with more than [`LOCAL_STATUS_CAP`] bytes.
async fn parked_here(settings: &ClientSettings) -> Result<Option<String>, StatusError> {
    let Some(addr) = settings.http.as_ref().and_then(|http| http.listen_addr().ok().flatten()) else {
        return Ok(None);
    };
    let url = format!("http://{addr}/status");
    let Ok(client) = reqwest::Client::builder().timeout(Duration::from_millis(500)).build() else { return Ok(None) };
    let Ok(response) = client.get(&url).send().await else { return Ok(None) };
    match read_capped(response, LOCAL_STATUS_CAP).await {
        Ok(Some(body)) => Ok(flink_ha_core::status::parked_text(&body)),
        Ok(None) => Ok(None),
        Err(TooLarge) => Err(StatusError::LocalStatusTooLarge { url, cap: LOCAL_STATUS_CAP }),
    }
}

/// A body above the cap.
struct TooLarge;

/// The body of `response`, read chunk by chunk up to `cap` bytes; `None` when the reading fails.
async fn read_capped(mut response: reqwest::Response, cap: usize) -> Result<Option<Vec<u8>>, TooLarge> {
    if response.content_length().is_some_and(|declared| declared > cap as u64) {
        return Err(TooLarge);
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() > cap => return Err(TooLarge),
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => return Ok(Some(body)),
            Err(_) => return Ok(None),
        }
    }
}

/// Runs `status`: prints the report (text or JSON) on stdout, or one line on stderr; returns the
/// exit code. With `--watch`, hands over to `super::watch`.
pub(crate) fn main(args: &Args) -> ExitCode {
    let interval = match args.watch.as_deref().map(super::watch::parse_interval).transpose() {
        Ok(interval) => interval,
        Err(why) => return super::refuse(format!("--watch: {why}")),
    };
    let settings = match args.target.load() {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return super::refuse(format!("cannot start the async runtime: {e}")),
    };
    if let Some(interval) = interval {
        let code = runtime.block_on(super::watch::watch(&settings, args.format, interval));
        runtime.shutdown_timeout(CLOSE_WAIT);
        return code;
    }
    let result = runtime.block_on(status(&settings));
    runtime.shutdown_timeout(CLOSE_WAIT);
    match result {
        Ok(report) => {
            print!("{}", render(&report, args.format));
            ExitCode::from(report.exit_code())
        }
        Err(e) => super::refuse(e),
    }
}

/// The report as `format` shows it, ending in a newline.
pub(crate) fn render(report: &StatusReport, format: Format) -> String {
    match format {
        Format::Text => render_text(report, SystemTime::now()),
        Format::Json => format!("{}\n", serde_json::to_string_pretty(report).expect("a report serializes")),
    }
}
