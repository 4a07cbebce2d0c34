//! `standin-jobmanager`: a stand-in for a Flink JobManager, for fast tests and demos.
//!
//! It serves Flink's REST `GET /overview` on 127.0.0.1:`--port`, records what happens to it
//! in a JSON-lines events file, detects a second JobManager running at the same time with an
//! exclusive `flock`, and can be told over HTTP to crash, hang or exit.
//!
//! Flags:
//! * `--port P` (required): listen on 127.0.0.1:P (0 picks a free port; the line on stdout
//!   says which).
//! * `--name NAME` (default `standin`): written into every event and the `/overview` body.
//! * `--start-delay DURATION` (humantime, default `0s`): the port is bound at once, but
//!   `/overview` answers 503 (like Flink's REST endpoint before it has leadership) until
//!   this much time has passed since start.
//! * `--events FILE`: append one JSON object per line: `start`, `overlap`,
//!   `exclusive-acquired`, `hang`, `term`, `stop`, `crash`, `exit`, `bind-failed`, each with
//!   `name`, `pid`,
//!   `mono_ns` (CLOCK_MONOTONIC, comparable between processes of one machine) and
//!   `wall_ms` (Unix epoch milliseconds).
//! * `--exclusive FILE`: take `flock(LOCK_EX|LOCK_NB)` on FILE (created if missing) and hold
//!   it for the process lifetime; the kernel releases it when the process dies, even by
//!   SIGKILL. If another process holds it, an `overlap` event (with the holder's name and pid
//!   as written into FILE) goes to the events file and stderr, the stand-in keeps running,
//!   and a background thread waits for the lock and takes it over (`exclusive-acquired`), so
//!   that a third instance started later is detected too.
//! * `--term-delay DURATION` (default `0s`): on SIGTERM or SIGINT, record `term`, wait this
//!   long (a slow shutdown), record `stop`, exit 0.
//! * `--ignore-term`: ignore SIGTERM entirely (only SIGKILL stops it; SIGINT still does).
//! * `--flood RATE` (bytes per second, 0 = as fast as the pipes take it): two threads write
//!   lines of 1000 bytes to stdout and to stderr, each at RATE, for the process lifetime (a
//!   chatty JobManager whose output nobody may drain).
//! * `--fork-child`: fork a child that stays in the stand-in's process group, ignores SIGTERM
//!   (only SIGKILL stops it) and keeps the `--exclusive` lock's file open, so that a surviving
//!   child shows up as an `overlap` of the next stand-in; recorded as a `child` event with its
//!   `child_pid` (Flink's helper processes, which a process-group kill must reach).
//! * `--invalid-utf8`: at start, write a line with bytes that are not UTF-8 to stderr, before
//!   the `started` line.
//!
//! HTTP (HTTP/1.1, one request per connection, `Connection: close`):
//! * `GET /overview`: 200 `{"taskmanagers":0,"slots-total":0,"slots-available":0,
//!   "jobs-running":0,"jobs-finished":0,"jobs-cancelled":0,"jobs-failed":0,
//!   "flink-version":"standin","standin-name":..,"standin-pid":..}`, or 503 during the start
//!   delay.
//! * `GET /control/crash`: answers 200, records `crash`, exits with code 1.
//! * `GET /control/hang`: answers 200; from then on connections are accepted and requests
//!   read but never answered (a hung JVM). Signals still work.
//! * `GET /control/exit0`: answers 200, records `exit`, exits with code 0.
//! * anything else: 404.
//!
//! At start it prints `standin-jobmanager NAME listening on 127.0.0.1:P` to stdout and
//! `standin-jobmanager NAME: pid N started` to stderr.
//!
//! The gate of a parked JobManager, as Flink's gated HA services factory has it: when the
//! `config.yaml` in `FLINK_CONF_DIR` says `high-availability.type:
//! flinkha.gate.GatedHaServicesFactory`, the stand-in writes `parked\n` to the fd named by
//! `FLINK_HA_GATE_READY_FD` (and closes it), records `parked`, and reads one byte from the fd
//! named by `FLINK_HA_GATE_FD` before anything else (the `start` event, the exclusive lock, the
//! port): a byte is the release (`released`), EOF or an error exits at once with code 1
//! (`gate-closed`). Missing or invalid variables: it exits 1 (`gate-missing`), never ungated.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use flink_ha_core::walltime::format_duration;
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{SigHandler, SigSet, Signal};
use nix::time::{clock_gettime, ClockId};
use serde_json::{json, Value};

/// Command-line flags of the stand-in JobManager.
#[derive(Debug, Parser)]
#[command(
    name = "standin-jobmanager",
    about = "A stand-in Flink JobManager for tests: serves /overview, can crash, hang or start slowly"
)]
struct Args {
    /// Port to listen on (127.0.0.1); 0 picks a free one.
    #[arg(long)]
    port: u16,
    /// Name written into events and /overview.
    #[arg(long, default_value = "standin")]
    name: String,
    /// /overview answers 503 until this long after start (e.g. "500ms").
    #[arg(long, value_parser = humantime::parse_duration, default_value = "0s")]
    start_delay: Duration,
    /// Append JSON-lines events to this file.
    #[arg(long)]
    events: Option<PathBuf>,
    /// Hold an exclusive flock on this file; record an "overlap" event if someone else holds it.
    #[arg(long)]
    exclusive: Option<PathBuf>,
    /// On SIGTERM/SIGINT, wait this long before exiting 0.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "0s")]
    term_delay: Duration,
    /// Ignore SIGTERM (only SIGKILL stops the process).
    #[arg(long)]
    ignore_term: bool,
    /// Write 1000-byte lines to stdout and stderr at this many bytes per second each (0: flat out).
    #[arg(long)]
    flood: Option<u64>,
    /// Fork a child in the same process group that ignores SIGTERM and holds the exclusive file.
    #[arg(long)]
    fork_child: bool,
    /// Write a line that is not UTF-8 to stderr at start.
    #[arg(long)]
    invalid_utf8: bool,
}

/// Process-wide state shared by the HTTP and signal threads.
struct State {
    name: String,
    pid: u32,
    started: Instant,
    start_delay: Duration,
    hung: AtomicBool,
    events: Option<Mutex<File>>,
}

/// The exclusive lock, kept alive until the process exits.
static HELD_LOCK: OnceLock<Flock<File>> = OnceLock::new();

fn mono_ns() -> u128 {
    clock_gettime(ClockId::CLOCK_MONOTONIC)
        .map(|ts| ts.tv_sec() as u128 * 1_000_000_000 + ts.tv_nsec() as u128)
        .unwrap_or(0)
}

fn wall_ms() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0)
}

impl State {
    /// Appends one event line (a single `write`, so lines of concurrent writers with
    /// `O_APPEND` do not interleave).
    fn record(&self, event: &str, extra: Value) {
        let Some(events) = &self.events else { return };
        let mut obj = json!({
            "event": event,
            "name": self.name,
            "pid": self.pid,
            "mono_ns": mono_ns() as u64,
            "wall_ms": wall_ms() as u64,
        });
        if let (Value::Object(o), Value::Object(e)) = (&mut obj, extra) {
            o.extend(e);
        }
        let mut line = obj.to_string();
        line.push('\n');
        let mut f = events.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = f.write_all(line.as_bytes()) {
            eprintln!("standin-jobmanager {}: cannot write event: {e}", self.name);
        }
    }

    fn exit(&self, code: i32, event: &str) -> ! {
        self.record(event, json!({ "code": code }));
        eprintln!("standin-jobmanager {}: {event}, exiting {code}", self.name);
        std::process::exit(code)
    }
}

fn main() {
    let args = Args::parse();
    let pid = std::process::id();

    // Signals first, before any thread exists, so every thread inherits the mask.
    let mut handled = SigSet::empty();
    handled.add(Signal::SIGINT);
    if args.ignore_term {
        // SAFETY: installing SIG_IGN runs no handler code.
        unsafe { nix::sys::signal::signal(Signal::SIGTERM, SigHandler::SigIgn) }.expect("ignore SIGTERM");
    } else {
        handled.add(Signal::SIGTERM);
    }
    handled.thread_block().expect("block signals");

    let events = args.events.as_ref().map(|path| {
        let file = OpenOptions::new().create(true).append(true).open(path).unwrap_or_else(|e| {
            eprintln!("standin-jobmanager: cannot open events file {}: {e}", path.display());
            std::process::exit(1)
        });
        Mutex::new(file)
    });
    let state = Arc::new(State {
        name: args.name.clone(),
        pid,
        started: Instant::now(),
        start_delay: args.start_delay,
        hung: AtomicBool::new(false),
        events,
    });
    {
        let state = state.clone();
        let term_delay = args.term_delay;
        std::thread::spawn(move || {
            let sig = handled.wait().expect("sigwait");
            state.record("term", json!({ "signal": sig.as_str() }));
            eprintln!(
                "standin-jobmanager {}: got {}, stopping in {}",
                state.name,
                sig.as_str(),
                format_duration(term_delay)
            );
            std::thread::sleep(term_delay);
            state.exit(0, "stop");
        });
    }
    if gated() {
        wait_at_gate(&state);
    }

    state.record("start", json!({ "port": args.port }));
    if args.invalid_utf8 {
        let _ = std::io::stderr().write_all(b"standin-jobmanager: not UTF-8: \xff\xfe\xc3(\n");
    }
    eprintln!(
        "standin-jobmanager {}: pid {pid} started (start-delay {}, term-delay {}{})",
        args.name,
        format_duration(args.start_delay),
        format_duration(args.term_delay),
        if args.ignore_term { ", ignoring SIGTERM" } else { "" }
    );

    if let Some(path) = &args.exclusive {
        take_exclusive(&state, path);
    }
    if args.fork_child {
        fork_child(&state);
    }
    if let Some(rate) = args.flood {
        flood(&args.name, rate);
    }

    let listener = match TcpListener::bind(("127.0.0.1", args.port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("standin-jobmanager {}: cannot listen on 127.0.0.1:{}: {e}", args.name, args.port);
            state.exit(1, "bind-failed");
        }
    };
    let addr = listener.local_addr().expect("local_addr");
    println!("standin-jobmanager {} listening on {addr}", args.name);
    let _ = std::io::stdout().flush();

    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                let state = state.clone();
                std::thread::spawn(move || handle(&state, stream));
            }
            Err(e) => {
                eprintln!("standin-jobmanager {}: accept: {e}", args.name);
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// The class name of Flink's gated HA services factory.
const GATE_FACTORY: &str = "flinkha.gate.GatedHaServicesFactory";

/// True when `FLINK_CONF_DIR/config.yaml` names the gated HA services factory.
fn gated() -> bool {
    let Some(dir) = std::env::var_os("FLINK_CONF_DIR") else { return false };
    let text = std::fs::read_to_string(PathBuf::from(dir).join("config.yaml")).unwrap_or_default();
    text.lines().any(|line| {
        line.trim()
            .strip_prefix("high-availability.type:")
            .is_some_and(|v| v.trim().trim_matches(['"', '\'']) == GATE_FACTORY)
    })
}

/// The fd an environment variable names, if it names one.
fn gate_fd(var: &str) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    let fd: i32 = std::env::var(var).ok()?.trim().parse().ok()?;
    // The fd must be open: F_GETFD fails on a closed one.
    nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).ok()?;
    // SAFETY: the guard handed this open fd to this process for it alone.
    Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// Waits at the gate as Flink's gated factory does: ready line, then one byte or exit.
fn wait_at_gate(state: &State) {
    let (Some(release), Some(ready)) = (gate_fd("FLINK_HA_GATE_FD"), gate_fd("FLINK_HA_GATE_READY_FD")) else {
        eprintln!(
            "standin-jobmanager {}: FLINK_HA_GATE_FD or FLINK_HA_GATE_READY_FD is missing or not open",
            state.name
        );
        state.exit(1, "gate-missing");
    };
    let mut ready = File::from(ready);
    let _ = ready.write_all(b"parked\n");
    drop(ready);
    state.record("parked", json!({}));
    let mut byte = [0u8; 1];
    match File::from(release).read(&mut byte) {
        Ok(1) => state.record("released", json!({})),
        other => {
            eprintln!("standin-jobmanager {}: the gate closed ({other:?}), exiting", state.name);
            state.exit(1, "gate-closed");
        }
    }
}

/// Forks a child that only sleeps: it inherits the process group, the blocked SIGTERM and the
/// open exclusive file (the lock lives as long as any descriptor of it).
fn fork_child(state: &State) {
    // SAFETY: the child only calls nanosleep, which is async-signal-safe.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => loop {
            std::thread::sleep(Duration::from_secs(3600));
        },
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            state.record("child", json!({ "child_pid": child.as_raw() }));
        }
        Err(e) => eprintln!("standin-jobmanager {}: fork: {e}", state.name),
    }
}

/// Starts two threads that write `rate` bytes per second (0: as fast as possible) of 1000-byte
/// lines to stdout and to stderr.
fn flood(name: &str, rate: u64) {
    for to_stderr in [false, true] {
        let line = format!(
            "{:<999}\n",
            format!("standin-jobmanager {name} flooding {}", if to_stderr { "stderr" } else { "stdout" })
        );
        std::thread::spawn(move || {
            let started = Instant::now();
            let mut written: u64 = 0;
            loop {
                let result = if to_stderr {
                    std::io::stderr().write_all(line.as_bytes())
                } else {
                    std::io::stdout().write_all(line.as_bytes())
                };
                if result.is_err() {
                    return;
                }
                written += line.len() as u64;
                if rate > 0 {
                    let due = Duration::from_secs_f64(written as f64 / rate as f64);
                    if let Some(ahead) = due.checked_sub(started.elapsed()) {
                        std::thread::sleep(ahead);
                    }
                }
            }
        });
    }
}

/// Locks `path` exclusively, or records the overlap and waits for the lock in the background.
fn take_exclusive(state: &Arc<State>, path: &PathBuf) {
    let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).unwrap_or_else(|e| {
        eprintln!("standin-jobmanager {}: cannot open exclusive file {}: {e}", state.name, path.display());
        std::process::exit(1)
    });
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => hold(state, lock),
        Err((mut file, Errno::EWOULDBLOCK)) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim().to_string();
            eprintln!(
                "standin-jobmanager {}: OVERLAP: {} is locked by another JobManager ({holder})",
                state.name,
                path.display()
            );
            state.record("overlap", json!({ "holder": holder, "file": path.display().to_string() }));
            let state = state.clone();
            std::thread::spawn(move || match Flock::lock(file, FlockArg::LockExclusive) {
                Ok(lock) => {
                    state.record("exclusive-acquired", json!({}));
                    hold(&state, lock);
                }
                Err((_, e)) => eprintln!("standin-jobmanager {}: flock: {e}", state.name),
            });
        }
        Err((_, e)) => {
            eprintln!("standin-jobmanager {}: flock {}: {e}", state.name, path.display());
            std::process::exit(1)
        }
    }
}

/// Writes "NAME pid PID" into the locked file (for the next overlap report) and keeps the lock.
fn hold(state: &State, mut lock: Flock<File>) {
    let _ = lock.set_len(0);
    let _ = lock.seek(SeekFrom::Start(0));
    let _ = write!(lock, "{} pid {}", state.name, state.pid);
    let _ = lock.flush();
    let _ = HELD_LOCK.set(lock);
}

fn respond(stream: &mut TcpStream, status: u16, reason: &str, body: &Value) {
    let body = body.to_string();
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

/// Reads the request head (up to the blank line, at most 16 KiB); returns the request line.
fn read_request_line(stream: &mut TcpStream) -> Option<String> {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && !buf.windows(2).any(|w| w == b"\n\n") {
        if buf.len() > 16 * 1024 {
            break;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let text = String::from_utf8_lossy(&buf);
    text.lines().next().map(str::to_string).filter(|l| !l.is_empty())
}

fn hang_forever() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn handle(state: &State, mut stream: TcpStream) {
    if state.hung.load(Ordering::SeqCst) {
        // Keep the connection open and say nothing.
        let _ = read_request_line(&mut stream);
        hang_forever();
    }
    let Some(line) = read_request_line(&mut stream) else {
        return;
    };
    if state.hung.load(Ordering::SeqCst) {
        hang_forever();
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("");
    let target = parts.next().unwrap_or("");
    let path = target.split('?').next().unwrap_or("");
    if method != "GET" {
        respond(&mut stream, 405, "Method Not Allowed", &json!({ "errors": ["only GET"] }));
        return;
    }
    match path {
        "/overview" => {
            if state.started.elapsed() < state.start_delay {
                respond(
                    &mut stream,
                    503,
                    "Service Unavailable",
                    &json!({ "errors": ["Service temporarily unavailable due to an ongoing leader election. Please refresh."] }),
                );
            } else {
                respond(
                    &mut stream,
                    200,
                    "OK",
                    &json!({
                        "taskmanagers": 0,
                        "slots-total": 0,
                        "slots-available": 0,
                        "jobs-running": 0,
                        "jobs-finished": 0,
                        "jobs-cancelled": 0,
                        "jobs-failed": 0,
                        "flink-version": "standin",
                        "flink-commit": "standin",
                        "standin-name": state.name,
                        "standin-pid": state.pid,
                    }),
                );
            }
        }
        "/control/crash" => {
            respond(&mut stream, 200, "OK", &json!({ "ok": "crashing" }));
            state.exit(1, "crash");
        }
        "/control/hang" => {
            state.hung.store(true, Ordering::SeqCst);
            respond(&mut stream, 200, "OK", &json!({ "ok": "hanging" }));
            state.record("hang", json!({}));
            eprintln!("standin-jobmanager {}: hanging (no more HTTP answers)", state.name);
        }
        "/control/exit0" => {
            respond(&mut stream, 200, "OK", &json!({ "ok": "exiting" }));
            state.exit(0, "exit");
        }
        _ => respond(&mut stream, 404, "Not Found", &json!({ "errors": ["Not found: ".to_string() + path] })),
    }
}
