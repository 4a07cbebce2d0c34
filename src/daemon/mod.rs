//! `flink-ha-supervisor run`: the event loop that feeds the state machine from the adapters
//! (ZooKeeper session and election, the leader record, the JobManager process, probes, signals)
//! and carries out the actions it returns. It decides nothing itself.
//!
//! [`supervise`] starts each of the daemon's tasks and reports one that dies to this loop.

pub(crate) mod supervise;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use zookeeper_client as zk;

use crate::config::Settings;
use crate::host;
use crate::outward::hooks::Hooks;
use crate::outward::logging::write_audit;
use crate::outward::systemd::{FaultInjection, Notifier};
use crate::process::jobmanager::{self, Running, Start};
use crate::process::launch::Launcher;
use crate::process::mono;
use crate::process::probe::Probe;
use crate::zk::acl::{self, CheckFailed};
use crate::zk::chroot;
use crate::zk::control;
use crate::zk::election::{self, Request, Session};
use crate::zk::leader_record::{Term, TermSpec};
use crate::zk::session::{self, ConnectError, Refused, ZkTarget};
use flink_ha_core::audit_event::{AuditEvent, FailoverFigures};
use flink_ha_core::blocking;
use flink_ha_core::failover::{self, Failover, FailoverStats};
use flink_ha_core::identity::NodeIdentity;
use flink_ha_core::machine::{Action, Event, Machine, Output, Report, Role, Standby, Timings};
use flink_ha_core::timing;
use flink_ha_core::view::{NodeFacts, NodeView};
use supervise::Death;

/// Pause between attempts to make a session.
const CONNECT_RETRY: Duration = Duration::from_secs(1);

/// How long closing a session that failed the ACL check may take.
const CHECK_CLOSE_WAIT: Duration = Duration::from_millis(500);

/// How long a shutdown waits for the server to acknowledge the session's close.
const CLOSE_WAIT: Duration = Duration::from_secs(3);

/// How long the latch clearing before a JobManager's start may take before the start goes
/// ahead without it.
const LATCH_CLEAR_TIMEOUT: Duration = Duration::from_secs(2);

/// After a task died, how much longer than `jobmanager.stop_grace` the orderly stop may take
/// before the daemon exits all the same (its fence guard then stops the JobManager).
const FATAL_EXIT_SLACK: Duration = Duration::from_secs(10);

/// Messages from the adapters that are not machine events of a session or a process.
enum Note {
    /// A new session for `generation` is up.
    Connected { generation: u64, client: zk::Client, started_at: Instant },
    /// ZooKeeper refused this daemon (its credentials, its TLS, the ACLs of its nodes): the
    /// daemon stops and exits 2 with this line.
    Refused(Refused),
    /// A probe finished.
    Probed(bool),
}

/// The receiving ends of the adapters' channels.
struct Inbox {
    process: UnboundedReceiver<Event>,
    session: UnboundedReceiver<election::SessionEvent>,
    notes: UnboundedReceiver<Note>,
    failovers: UnboundedReceiver<Failover>,
}

/// The adapters around the machine and the state they need.
struct Daemon {
    settings: Settings,
    identity: NodeIdentity,
    target: ZkTarget,
    spec: jobmanager::Spec,
    /// Chooses what the spawn runs: the resolved JVM command line or the configured command.
    launcher: Launcher,
    probe: Probe,
    machine: Machine,
    process_tx: UnboundedSender<Event>,
    session_tx: UnboundedSender<election::SessionEvent>,
    note_tx: UnboundedSender<Note>,
    failover_tx: UnboundedSender<Failover>,
    /// The session generation whose events count; older sessions' events are dropped.
    generation: u64,
    session: Option<Session>,
    negotiated_timeout: Duration,
    connecting: tokio::task::JoinHandle<()>,
    jm: Option<Running>,
    /// The parked JobManager and its park's number, until it is released or discarded.
    parked: Option<(u64, Running)>,
    /// Flink's leader latch in the daemon's session, when the daemon clears it before a start.
    latch_path: Option<crate::zk::latches::Latch>,
    /// The latch clearing in flight: its round and the flag that stops it sending requests.
    clearing: Option<(u64, std::sync::Arc<std::sync::atomic::AtomicBool>)>,
    /// The leader record's task of the current term, between `BeginTerm` and its end.
    term: Option<Term>,
    stats: FailoverStats,
    /// When this node last became leader (wall clock), for the view.
    leader_since: Option<std::time::SystemTime>,
    /// The published snapshot of this node.
    view: tokio::sync::watch::Sender<NodeView>,
    /// systemd: readiness, status, watchdog.
    notifier: Notifier,
    /// `[hooks]`: commands run on role changes, never awaited by the loop.
    hooks: Hooks,
    /// A task of the daemon died: the daemon stops and exits non-zero.
    failed: Option<Death>,
    /// ZooKeeper refused this daemon: it stops and exits 2.
    refused: Option<Refused>,
}

/// Runs the daemon until `shutdown` resolves and the shutdown completed.
/// A task that dies (see `supervise.rs`) stops the daemon as a shutdown does, and it returns the
/// death as its error.
pub(crate) async fn run(settings: Settings, shutdown: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
    let mut deaths = supervise::watch();
    let endpoint = crate::outward::http::bind(&settings).await?;
    let (mut daemon, mut inbox) = Daemon::new(settings)?;
    daemon.launcher.start(&daemon.settings, &daemon.spec);
    let _http = endpoint.map(|endpoint| endpoint.serve(daemon.view.subscribe()));
    let mut faults = FaultInjection::from_armed()?;
    tokio::pin!(shutdown);
    let mut shutdown_seen = false;
    let path = Some(daemon.settings.election.path.clone());
    let joined = AuditEvent::Joined { path, quorum: Some(daemon.target.quorum.clone()) };
    write_audit(daemon.node(), None, &joined, "contending for leadership");
    let mut fatal_deadline = None;
    loop {
        let deadline = daemon.machine.poll_timeout();
        let ping = daemon.notifier.next_ping();
        // The machine's clock counts suspended time (mono.rs).
        let now = mono::now;
        let output = tokio::select! {
            biased;
            Some(death) = deaths.recv(), if daemon.failed.is_none() => {
                // Logged where it died; from here on /health answers 503 with it.
                fatal_deadline = Some(now() + daemon.settings.jobmanager.stop_grace + FATAL_EXIT_SLACK);
                daemon.failed = Some(death);
                daemon.machine.handle_event(now(), Event::ShutdownRequested)
            },
            () = sleep_until(fatal_deadline) => {
                let death = daemon.failed.take().expect("a deadline only after a death");
                return Err(anyhow::anyhow!("{death}; the orderly stop did not finish in time"));
            },
            () = &mut shutdown, if !shutdown_seen => {
                shutdown_seen = true;
                daemon.machine.handle_event(now(), Event::ShutdownRequested)
            },
            Some(event) = inbox.process.recv() => daemon.machine.handle_event(now(), event),
            Some((generation, event)) = inbox.session.recv() => {
                if generation == daemon.generation { daemon.machine.handle_event(now(), event) } else { Output::default() }
            },
            Some(note) = inbox.notes.recv() => daemon.on_note(note),
            Some(measured) = inbox.failovers.recv() => {
                daemon.on_failover(&measured);
                Output::default()
            },
            () = sleep_until(deadline), if deadline.is_some() => daemon.machine.handle_timeout(now()),
            // Only wakes the loop: the ping is sent at the end of the turn, from the loop itself.
            () = sleep_until_monotonic(ping), if ping.is_some() => Output::default(),
            () = faults.triggered() => {
                faults.block_loop();
                Output::default()
            },
        };
        let exit = daemon.execute(output).await;
        daemon.publish();
        daemon.notifier.end_of_turn(Instant::now(), &daemon.machine, daemon.session.is_some());
        if exit {
            // A failover measured just before the shutdown (the term is released by now, so
            // everything it measured is in the channel).
            while let Ok(measured) = inbox.failovers.try_recv() {
                daemon.on_failover(&measured);
            }
            // The JobManager is stopped and the election left: the last on_standby may finish.
            daemon.hooks.drain().await;
            if let Some(death) = daemon.failed.take() {
                return Err(anyhow::anyhow!("{death}; the JobManager is stopped and the election left"));
            }
            if let Some(refused) = daemon.refused.take() {
                return Err(refused.into());
            }
            write_audit(daemon.node(), None, &AuditEvent::Exited, "shutdown complete");
            return Ok(());
        }
    }
}

impl Daemon {
    fn new(settings: Settings) -> anyhow::Result<(Daemon, Inbox)> {
        let (process_tx, process) = mpsc::unbounded_channel();
        let (session_tx, session) = mpsc::unbounded_channel();
        let (note_tx, notes) = mpsc::unbounded_channel();
        let (failover_tx, failovers) = mpsc::unbounded_channel();
        let target = ZkTarget::of(&settings);
        let jm = &settings.jobmanager;
        let standby = jm.standby_mode().unwrap_or(Standby::Cold);
        let latch_path = match crate::zk::latches::latch_path(&settings) {
            Ok(path) => Some(path),
            Err(why) => {
                if settings.flink.enabled {
                    tracing::warn!(event = "latches_not_cleared", why,
                        "Flink's leader latch nodes of dead JobManagers are not cleared before a start: a new JobManager's Flink election waits for their sessions to expire");
                }
                None
            }
        };
        let mut machine = Machine::new(Timings {
            start_timeout: jm.start_timeout,
            stop_grace: jm.stop_grace,
            health_interval: jm.health_interval,
            health_failures: jm.health_failures,
            restart_limit: jm.restart_limit,
            restart_window: jm.restart_window,
            session_timeout: settings.zookeeper.session_timeout,
            tick_time: settings.zookeeper.tick_time,
        })
        .with_standby(standby)
        .with_park_timeout(jm.park_timeout);
        if latch_path.is_some() {
            machine = machine.with_latch_clearing(LATCH_CLEAR_TIMEOUT);
        }
        let daemon = Daemon {
            parked: None,
            latch_path,
            clearing: None,
            identity: identity_of(&settings),
            spec: jobmanager::Spec { guard_exe: std::env::current_exe()?, settings: jm.clone() },
            launcher: Launcher::new(&jm.launch),
            probe: Probe::new(
                &jm.ready_url,
                jm.health_interval.clamp(Duration::from_millis(200), Duration::from_secs(5)),
            ),
            machine,
            connecting: supervise::spawn(
                "connect",
                connect(target.clone(), settings.election.path.clone(), settings.node.id.clone(), 1, note_tx.clone()),
            ),
            target,
            process_tx,
            session_tx,
            note_tx,
            failover_tx,
            generation: 1,
            session: None,
            negotiated_timeout: settings.zookeeper.session_timeout,
            jm: None,
            term: None,
            stats: FailoverStats::default(),
            leader_since: None,
            view: tokio::sync::watch::Sender::new(NodeView::starting(&settings.node.id)),
            notifier: Notifier::from_env(&settings),
            hooks: Hooks::new(&settings),
            failed: None,
            refused: None,
            settings,
        };
        Ok((daemon, Inbox { process, session, notes, failovers }))
    }

    /// Publishes the node's current snapshot if it changed.
    fn publish(&self) {
        if let Some(error) = crate::outward::logging::first_audit_failure() {
            let file = self.settings.log.audit_file.as_deref().map(|p| p.display().to_string()).unwrap_or_default();
            tracing::error!(event = "audit_write_failed", node = self.node(), file, error,
                "cannot write to log.audit_file; its records are lost until it works again (counted in flink_ha_supervisor_audit_write_failures_total), the records on stdout are complete");
        }
        let facts = NodeFacts {
            node: self.node(),
            quorum: &self.settings.zookeeper.quorum,
            election_path: &self.settings.election.path,
            has_session: self.session.is_some(),
            now: (mono::now(), std::time::SystemTime::now()),
            leader_since: self.leader_since,
            audit_write_failures: crate::outward::logging::audit_write_failures(),
            failovers: self.stats.summary(),
            outages: self.stats.outages(),
            failed: self.failed.as_ref().map(Death::to_string),
        };
        let view = NodeView::of(&self.machine, facts);
        self.view.send_if_modified(|old| {
            let changed = *old != view;
            *old = view;
            changed
        });
    }

    fn node(&self) -> &str {
        &self.settings.node.id
    }

    fn on_note(&mut self, note: Note) -> Output {
        match note {
            Note::Connected { generation, client, started_at } if generation == self.generation => {
                let negotiated_timeout = client.session_timeout();
                self.negotiated_timeout = negotiated_timeout;
                let started = AuditEvent::SessionStarted {
                    session_id: Some(client.session_id().to_string()),
                    negotiated_timeout_ms: Some(negotiated_timeout.as_millis() as u64),
                };
                write_audit(self.node(), None, &started, "ZooKeeper session established");
                self.session = Some(Session::start(
                    client,
                    generation,
                    self.settings.node.id.clone(),
                    self.settings.election.path.clone(),
                    self.identity.to_json(),
                    timing::heartbeat_interval(negotiated_timeout),
                    self.target.acl,
                    self.session_tx.clone(),
                ));
                // The daemon contends from here on (the first session's start is what systemd waits for).
                self.notifier.ready();
                self.machine.handle_event(mono::now(), Event::SessionStarted { negotiated_timeout, started_at })
            }
            Note::Connected { .. } => Output::default(),
            Note::Refused(refused) => {
                tracing::error!(event = "zookeeper_refused", node = self.node(), error = %refused,
                    "ZooKeeper refused this daemon; stopping (exit code 2)");
                self.refused = Some(refused);
                self.machine.handle_event(mono::now(), Event::ShutdownRequested)
            }
            Note::Probed(ok) => self.machine.handle_event(mono::now(), Event::ProbeResult { ok }),
        }
    }

    fn on_failover(&mut self, f: &Failover) {
        self.stats.record(f);
        let epoch = self.epoch();
        let figures = FailoverFigures::measured(f, epoch, self.settings.failover.budget, self.stats.summary().count);
        write_audit(self.node(), epoch, &AuditEvent::FailoverCompleted(figures.clone()), "failover completed");
        if !f.within_budget {
            write_audit(self.node(), epoch, &AuditEvent::BudgetExceeded(figures), "failover exceeded the budget");
        }
    }

    fn epoch(&self) -> Option<u64> {
        match self.machine.role() {
            Role::Leader { epoch } => Some(epoch),
            Role::Standby => None,
        }
    }

    /// Starts a JobManager parked at its gate, with Flink's configuration written for it.
    fn park(&mut self, park: u64) -> std::io::Result<Running> {
        let fingerprint = crate::flink::fingerprint(&self.settings).unwrap_or_default();
        crate::flink::prepare_spawn(&self.settings, &mut self.spec)?;
        crate::process::cds::prepare_park(&self.settings, &mut self.spec);
        let launch = self.launcher.choose(&self.spec);
        Running::start(&self.spec, &launch, Start::Parked { park, fingerprint }, self.process_tx.clone())
    }

    /// Logs the reports and carries out the actions of one output, and of the events its actions
    /// cause; true when the process is to exit.
    async fn execute(&mut self, mut output: Output) -> bool {
        let mut pending: VecDeque<Event> = VecDeque::new();
        loop {
            for report in &output.reports {
                log_report(&self.settings, self.epoch(), report);
            }
            for action in output.actions {
                match action {
                    Action::SpawnJobManager { lease_until } => {
                        let spawned = crate::flink::prepare_spawn(&self.settings, &mut self.spec)
                            .map(|()| crate::process::cds::prepare_spawn(&self.settings, &mut self.spec))
                            .map(|()| self.launcher.choose(&self.spec))
                            .and_then(|launch| {
                                Running::spawn(&self.spec, &launch, lease_until, self.process_tx.clone())
                            });
                        match spawned {
                            Ok(running) => self.jm = Some(running),
                            Err(e) => pending.push_back(Event::JobManagerSpawnFailed { error: e.to_string() }),
                        }
                    }
                    Action::RenewLease { until } => {
                        if let Some(jm) = self.jm.as_mut() {
                            jm.renew(until).await;
                        }
                    }
                    Action::StopJobManager { grace, .. } => {
                        if let Some(jm) = self.jm.as_mut() {
                            jm.stop(grace).await;
                        }
                    }
                    Action::Probe => {
                        let (probe, note_tx) = (self.probe.clone(), self.note_tx.clone());
                        supervise::spawn("probe", async move {
                            let _ = note_tx.send(Note::Probed(probe.check().await));
                        });
                    }
                    Action::Resign { .. } => {
                        if let Some(session) = &self.session {
                            session.request(Request::Resign);
                        }
                    }
                    Action::ClearHandover => {
                        if let Some(session) = &self.session {
                            let path = self.settings.election.path.clone();
                            supervise::spawn("clear-handover", control::clear_handover(session.client().clone(), path));
                        }
                    }
                    Action::NewSession => {
                        if let Some(old) = self.session.take() {
                            supervise::spawn("close-session", old.close(Duration::ZERO));
                        }
                        self.connecting.abort();
                        self.generation += 1;
                        self.connecting = supervise::spawn(
                            "connect",
                            connect(
                                self.target.clone(),
                                self.settings.election.path.clone(),
                                self.settings.node.id.clone(),
                                self.generation,
                                self.note_tx.clone(),
                            ),
                        );
                    }
                    Action::LeaveElection => {
                        self.connecting.abort();
                        if let Some(session) = self.session.take() {
                            session.close(CLOSE_WAIT).await;
                        }
                        pending.push_back(Event::LeftElection);
                    }
                    Action::Exit => return true,
                    Action::BeginTerm { epoch } => {
                        self.leader_since = Some(std::time::SystemTime::now());
                        self.term = self.session.as_ref().map(|session| {
                            let spec = TermSpec {
                                path: failover::record_path(&self.settings.election.path),
                                node: self.settings.node.id.clone(),
                                epoch,
                                session_timeout: self.negotiated_timeout,
                                budget: self.settings.failover.budget,
                                acl: self.target.acl,
                            };
                            Term::begin(session.client().clone(), spec, self.failover_tx.clone())
                        });
                    }
                    Action::TermReady { election_to_spawn, spawn_to_ready } => {
                        if let Some(term) = &self.term {
                            term.ready(election_to_spawn, spawn_to_ready);
                        }
                    }
                    Action::TermStopping { reason } => {
                        if let Some(term) = &self.term {
                            term.stopping(reason.as_str());
                        }
                    }
                    Action::ReleaseTerm { reason } => {
                        if let Some(term) = self.term.take() {
                            term.release(reason).await;
                        }
                    }
                    Action::DropTerm => self.term = None,
                    Action::RunHook(hook) => self.hooks.run(hook),
                    Action::ParkJobManager { park } => {
                        // A park left over (the machine discards first) stops with its control pipe.
                        self.parked = None;
                        match self.park(park) {
                            Ok(running) => self.parked = Some((park, running)),
                            Err(e) => {
                                pending.push_back(Event::ParkedExited { park, code: None, error: Some(e.to_string()) })
                            }
                        }
                    }
                    Action::ReleaseParked { park, lease_until } => match self.parked.take() {
                        Some((p, mut running)) if p == park => {
                            if let Some(pid) = running.release(lease_until).await {
                                pending.push_back(Event::JobManagerSpawned { pid });
                            }
                            self.jm = Some(running);
                        }
                        other => {
                            self.parked = other;
                            // A park that could not start has reported that already (`ParkedExited`).
                            if !pending.iter().any(|e| matches!(e, Event::ParkedExited { park: p, .. } if *p == park)) {
                                let error = format!("parked JobManager {park} is not there to release");
                                pending.push_back(Event::JobManagerSpawnFailed { error });
                            }
                        }
                    },
                    Action::DiscardParked { park } => {
                        if let Some((p, mut running)) = self.parked.take() {
                            if p == park {
                                running.stop(Duration::ZERO).await;
                            } else {
                                self.parked = Some((p, running));
                            }
                        }
                    }
                    Action::ObserveFlinkConfig => {
                        let fingerprint = crate::flink::fingerprint(&self.settings);
                        pending.push_back(Event::FlinkConfigObserved { fingerprint });
                    }
                    Action::ClearLatches { round } => match (&self.session, &self.latch_path) {
                        (Some(session), Some(path)) => {
                            let cancelled = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
                            self.clearing = Some((round, cancelled.clone()));
                            let (client, path, events) =
                                (session.client().clone(), path.clone(), self.process_tx.clone());
                            supervise::spawn("clear-latches", async move {
                                // The machine gives up on the round at its own timeout; the task
                                // ends then too instead of waiting on a request that hangs.
                                let clearing = crate::zk::latches::clear(&client, &path, &cancelled);
                                let event = match tokio::time::timeout(LATCH_CLEAR_TIMEOUT, clearing).await {
                                    Ok(Ok((deleted, skipped))) => Event::LatchesCleared { round, deleted, skipped },
                                    Ok(Err(error)) => Event::LatchClearingFailed { round, error },
                                    Err(_) => Event::LatchClearingFailed { round, error: "timed out".into() },
                                };
                                let _ = events.send(event);
                            });
                        }
                        _ => pending.push_back(Event::LatchClearingFailed { round, error: "no session".into() }),
                    },
                    Action::CancelLatchClearing { round } => {
                        if let Some((r, cancelled)) = self.clearing.take() {
                            if r == round {
                                cancelled.store(true, std::sync::atomic::Ordering::SeqCst);
                            } else {
                                self.clearing = Some((r, cancelled));
                            }
                        }
                    }
                }
            }
            let Some(event) = pending.pop_front() else { break };
            output = self.machine.handle_event(mono::now(), event);
        }
        if !self.machine.jobmanager().is_live() {
            self.jm = None;
        }
        false
    }
}

/// Waits for a deadline of the machine (boot timeline: re-reads the clock at least every
/// `mono::MAX_SLEEP`, so a deadline that passed during a suspend is seen right after it).
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => mono::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Waits for an instant of tokio's own (monotonic) clock, such as the watchdog's next ping.
async fn sleep_until_monotonic(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}

/// Makes a session and checks the ACLs of the nodes the daemons own (`zk::acl`), retrying
/// until both succeed; a refusal (credentials, TLS, ACLs) ends the attempts and is reported.
async fn connect(target: ZkTarget, election_path: String, node: String, generation: u64, notes: UnboundedSender<Note>) {
    loop {
        let started_at = mono::now();
        let client = match target.connect().await {
            Ok(client) => client,
            Err(ConnectError::Refused(refused)) => {
                let _ = notes.send(Note::Refused(refused));
                return;
            }
            Err(ConnectError::Unreachable(e)) => {
                tracing::warn!(quorum = target.quorum, error = %e.why, "cannot make a ZooKeeper session; retrying");
                tokio::time::sleep(CONNECT_RETRY).await;
                continue;
            }
        };
        let checked = tokio::time::timeout(target.session_timeout, async {
            ensure_chroot(&client, &target).await?;
            acl::check_owned_nodes(&client, &target, &election_path, &node).await
        })
        .await;
        let why = match checked {
            Ok(Ok(())) => {
                let _ = notes.send(Note::Connected { generation, client, started_at });
                return;
            }
            Ok(Err(CheckFailed::Refused(refused))) => {
                session::close(client, CHECK_CLOSE_WAIT).await;
                let _ = notes.send(Note::Refused(refused));
                return;
            }
            Ok(Err(CheckFailed::Retry(e))) => e.to_string(),
            Err(_) => format!("no answer within {}", flink_ha_core::walltime::format_duration(target.session_timeout)),
        };
        tracing::warn!(
            quorum = target.quorum,
            error = why,
            "cannot check the ACLs of the daemons' nodes; retrying with a new session"
        );
        session::close(client, CHECK_CLOSE_WAIT).await;
        tokio::time::sleep(CONNECT_RETRY).await;
    }
}

/// Creates the quorum's chroot when it does not exist (`zk::chroot`), logged as
/// `chroot_created`; a refusal is the one line of the identity that may not create it.
async fn ensure_chroot(client: &zk::Client, target: &ZkTarget) -> Result<(), CheckFailed> {
    match chroot::ensure(client, &target.quorum, target.acl).await {
        Ok(Some(created)) => {
            tracing::info!(
                event = "chroot_created",
                chroot = created,
                quorum = target.quorum,
                "the quorum's chroot did not exist; created it"
            );
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(zk::Error::NoAuth) => {
            let chroot = crate::config::chroot_of(&target.quorum);
            let hosts = target.quorum.split('/').next().unwrap_or_default();
            Err(CheckFailed::Refused(Refused(format!(
                "zookeeper.quorum {}: the chroot {chroot} does not exist and ZooKeeper denies this identity creating it (NoAuth); create it with `zkCli.sh -server {hosts} create {chroot}` as an identity that may, with an ACL that lets the daemons' identity create nodes in it",
                target.quorum
            ))))
        }
        Err(e) => Err(CheckFailed::Retry(e)),
    }
}

/// What this daemon writes into its election node. The REST address is `ready_url`'s, with a
/// loopback host replaced by the host name, since other hosts read it.
fn identity_of(settings: &Settings) -> NodeIdentity {
    let host = host::name();
    let url = &settings.jobmanager.ready_url;
    let authority = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest).split('/').next().unwrap_or_default();
    let rest_address = match authority.rsplit_once(':') {
        Some((h, port)) if ["127.0.0.1", "localhost", "[::1]", "0.0.0.0"].contains(&h) => format!("{host}:{port}"),
        _ => authority.to_string(),
    };
    NodeIdentity {
        node_id: settings.node.id.clone(),
        host,
        rest_address,
        rpc_address: settings.jobmanager.rpc_address.clone(),
        pid: std::process::id(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// Logs a report of the parked JobManager or of the latch clearing; false for any other.
fn log_start_report(report: &Report) -> bool {
    let ms = |d: &Duration| d.as_millis() as u64;
    match report {
        Report::JobManagerParked { pid, after } => tracing::info!(event = "jobmanager_parked", pid, after_ms = ms(after),
            "a JobManager is parked at its gate, ready to release"),
        Report::ParkedJobManagerLost { pid, code, error, delay } => tracing::warn!(event = "parked_jobmanager_lost", pid, code,
            error = error.as_deref(), delay_ms = ms(delay), "the parked JobManager died before its release; parking another"),
        Report::ParkedJobManagerTimedOut { pid, waited, delay } => tracing::warn!(event = "parked_jobmanager_timed_out", pid,
            waited_ms = ms(waited), delay_ms = ms(delay), "the parked JobManager did not reach its gate within jobmanager.park_timeout; killed, parking another"),
        Report::DiscardedParkNotGone { park, waited } => tracing::warn!(event = "discarded_park_not_gone", park,
            waited_ms = ms(waited), "a discarded parked JobManager was not reported gone; going ahead without it (it may still hold the JobManager's ports)"),
        Report::ParkedJobManagerStale { pid } => tracing::info!(event = "parked_jobmanager_stale", pid,
            "the parked JobManager has another Flink configuration than a new one would get; parking a fresh one"),
        Report::ParkedJobManagerReleased { pid, parked_for } => tracing::info!(event = "parked_jobmanager_released", pid,
            parked_for_ms = ms(parked_for), "releasing the parked JobManager"),
        Report::LatchesCleared { deleted, skipped, took } => tracing::info!(event = "latches_cleared", deleted, skipped,
            took_ms = ms(took), "Flink's leader latch nodes of dead JobManagers deleted before the start"),
        Report::LatchClearingFailed { error, took } => tracing::warn!(event = "latch_clearing_failed", error, took_ms = ms(took),
            "cannot clear Flink's leader latch before the start (counted in flink_ha_supervisor_latch_clearing_failures_total); Flink's own election may wait for dead JobManagers' sessions"),
        _ => return false,
    }
    true
}

/// Writes one machine report as an audit record (docs/audit-events.md).
fn log_report(settings: &Settings, epoch: Option<u64>, report: &Report) {
    if log_start_report(report) {
        return;
    }
    let ms = |d: &Duration| Some(d.as_millis() as u64);
    let text = |s: &str| Some(s.to_string());
    // Written without the term: it is over, or there never was one.
    let epoch = match report {
        Report::LeadershipLost
        | Report::SessionExpired
        | Report::SessionTimeoutTooShort { .. }
        | Report::TickTimeTooLow { .. } => None,
        _ => epoch,
    };
    let (event, message): (AuditEvent, std::borrow::Cow<str>) = match report {
        Report::JobManagerParked { .. }
        | Report::ParkedJobManagerLost { .. }
        | Report::ParkedJobManagerTimedOut { .. }
        | Report::DiscardedParkNotGone { .. }
        | Report::ParkedJobManagerStale { .. }
        | Report::ParkedJobManagerReleased { .. }
        | Report::LatchesCleared { .. }
        | Report::LatchClearingFailed { .. } => return,
        Report::Elected { epoch } => (AuditEvent::Elected { epoch: *epoch }, "this node leads".into()),
        Report::JobManagerSpawned { pid, attempt } => {
            (AuditEvent::JobManagerSpawned { pid: Some(*pid), attempt: Some(*attempt) }, "JobManager started".into())
        }
        Report::JobManagerReady { startup } => {
            (AuditEvent::JobManagerReady { startup_ms: ms(startup) }, "JobManager ready".into())
        }
        Report::JobManagerExited { code } => {
            (AuditEvent::JobManagerExited { code: Some(i64::from(*code)) }, "JobManager exited on its own".into())
        }
        Report::JobManagerStopped { reason, code } => {
            let event =
                AuditEvent::JobManagerStopped { reason: Some(format!("{reason:?}")), code: Some(i64::from(*code)) };
            (event, "JobManager stopped".into())
        }
        Report::JobManagerRestartScheduled { delay, restarts_in_window } => {
            let event =
                AuditEvent::JobManagerRestarted { delay_ms: ms(delay), restarts_in_window: Some(*restarts_in_window) };
            (event, "restarting the JobManager".into())
        }
        Report::JobManagerSpawnFailed { error } => {
            (AuditEvent::JobManagerSpawnFailed { error: text(error) }, "cannot start the JobManager".into())
        }
        Report::Resigned { restarts_in_window } => (
            AuditEvent::Resigned { restarts_in_window: Some(*restarts_in_window) },
            "the JobManager keeps failing; giving leadership away".into(),
        ),
        Report::Fenced { silent_for } => (
            AuditEvent::Fenced { silent_for_ms: ms(silent_for) },
            "no proof that the session is alive; stopping the JobManager before the session could expire".into(),
        ),
        Report::LeadershipLost => (AuditEvent::LeadershipLost, "leadership lost".into()),
        Report::SessionDisconnected => (AuditEvent::SessionDisconnected, "lost the connection to ZooKeeper".into()),
        Report::SessionReconnected { disconnected_for } => (
            AuditEvent::SessionReconnected { disconnected_for_ms: ms(disconnected_for) },
            "reconnected to ZooKeeper".into(),
        ),
        Report::SessionExpired => (AuditEvent::SessionExpired, "the ZooKeeper session expired; rejoining".into()),
        Report::SessionTimeoutTooShort { negotiated, max_stop_grace } => {
            let event = AuditEvent::SessionTimeoutTooShort {
                negotiated_ms: ms(negotiated),
                max_stop_grace_ms: ms(max_stop_grace),
            };
            let message = "the server granted a session timeout too short to stop the JobManager in time; this node will not run it. Lower jobmanager.stop_grace or raise the server's minSessionTimeout";
            (event, message.into())
        }
        Report::TickTimeTooLow { configured, implied, requested, granted } => {
            let event = AuditEvent::TickTimeTooLow {
                tick_time_ms: ms(configured),
                implied_tick_time_ms: ms(implied),
                requested_ms: ms(requested),
                negotiated_ms: ms(granted),
            };
            let message = format!(
                "zookeeper.tick_time is {}ms, but the server granted {}ms for the {}ms asked, which it does only with a tickTime of at least {}ms (or a minSessionTimeout above two ticks); fencing by {}ms. Set zookeeper.tick_time to the servers' tickTime",
                configured.as_millis(), granted.as_millis(), requested.as_millis(), implied.as_millis(), implied.as_millis()
            );
            (event, message.into())
        }
        Report::Shutdown => (AuditEvent::Shutdown, "shutting down".into()),
        Report::Paused => (
            AuditEvent::Paused,
            "MAINTENANCE MODE: no failover, restart or stop of the JobManager on the daemon's own initiative".into(),
        ),
        Report::Resumed => (AuditEvent::Resumed, "maintenance mode over".into()),
        Report::HeldByPause { what } => {
            (AuditEvent::HeldByPause { what: text(what) }, "maintenance mode: not acting on its own".into())
        }
        Report::HandingOver => {
            (AuditEvent::HandingOver, "planned handover: stopping the JobManager and stepping down".into())
        }
        Report::SteppedAside { epoch } => (
            AuditEvent::SteppedAside { epoch: *epoch },
            "elected, but a handover names another node: stepping aside".into(),
        ),
        Report::HandoverCompleted => {
            (AuditEvent::HandoverCompleted, "this node leads as the handover asked; request cleared".into())
        }
        Report::ElectionBlocked(blocker) => {
            let path = &settings.election.path;
            let remedy = blocking::remedy(&settings.zookeeper.quorum, path, &blocker.name);
            let message = format!(
                "{}/{} ({}) is ahead of this node in the election, and every node behind it waits for it forever; {remedy}",
                path, blocker.name, blocker.why
            );
            let event = AuditEvent::ElectionBlocked {
                path: text(path),
                blocker: text(&blocker.name),
                why: Some(blocker.why.to_string()),
                first: Some(blocker.first),
            };
            (event, message.into())
        }
        Report::ElectionUnblocked { node: blocker } => (
            AuditEvent::ElectionUnblocked { blocker: text(blocker) },
            "the node that blocked the election is gone".into(),
        ),
    };
    write_audit(&settings.node.id, epoch, &event, &message);
}
