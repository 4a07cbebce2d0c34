//! Real ZooKeeper servers (Debian's 3.8 package) for integration tests: one standalone server
//! or an ensemble on loopback, each server a `java ... QuorumPeerMain zoo.cfg` child process
//! with its own temp dataDir, killed when the [`ZkEnsemble`] is dropped.
//!
//! Environment:
//! * `ZK_CLASSPATH` — the server's classpath (default
//!   `/usr/share/java/zookeeper.jar:/etc/zookeeper/conf`). When it names no SLF4J binding,
//!   `/usr/share/java/slf4j-simple.jar` is appended if present, so the server log is not empty
//!   (Debian's jar alone logs through SLF4J's no-op logger).
//! * `JAVA_HOME` — if set, `$JAVA_HOME/bin/java` is used, else `java` from `PATH`.
//!
//! Security (SASL logins, a TLS client port) is set up by the builder methods in
//! [`super::zk_secure`].
//!
//! The blocking methods ([`ZkEnsemble::start`], [`ZkEnsemble::stop`],
//! [`ZkEnsemble::start_server`], ...) wait up to seconds; in async tests call them from a
//! multi-thread runtime (`#[tokio::test(flavor = "multi_thread")]`) or `spawn_blocking`, so
//! ZooKeeper clients in the same runtime keep running meanwhile.

use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::ports::pick_free_port;
use super::process::spawn_tied;

/// Default classpath when `ZK_CLASSPATH` is unset.
pub const DEFAULT_ZK_CLASSPATH: &str = "/usr/share/java/zookeeper.jar:/etc/zookeeper/conf";
const SLF4J_SIMPLE_JAR: &str = "/usr/share/java/slf4j-simple.jar";
const LOG_TAIL_LINES: usize = 40;

/// Builder for a [`ZkEnsemble`]; get one from [`ZkEnsemble::builder`].
///
/// Defaults: 1 server, `tickTime` 200 ms, `minSessionTimeout` = 2 ticks (ZooKeeper's own
/// default), `maxSessionTimeout` = 60 s (instead of ZooKeeper's 20 ticks = 4 s, which would
/// silently clamp the session timeouts tests ask for), `initLimit` 25 ticks, `syncLimit`
/// 10 ticks, 256 MiB max heap, 60 s start timeout.
#[derive(Debug, Clone)]
pub struct ZkEnsembleBuilder {
    servers: usize,
    tick_time: Duration,
    min_session_timeout: Option<Duration>,
    max_session_timeout: Option<Duration>,
    init_limit: u32,
    sync_limit: u32,
    heap: String,
    start_timeout: Duration,
    extra_config: Vec<(String, String)>,
    /// Extra JVM arguments (e.g. `-Djava.security.auth.login.config=...`), before the main class.
    pub(super) jvm_args: Vec<String>,
    /// Jars appended to the classpath.
    pub(super) extra_classpath: Vec<String>,
    /// A secure client port on every server (see [`SecureClientPort`]).
    pub(super) secure: Option<SecureClientPort>,
    /// Files the servers read (a JAAS file, keystores): kept as long as the builder or the
    /// ensemble lives.
    pub(super) keep: Vec<Arc<tempfile::TempDir>>,
}

/// A `secureClientPort` on every server, and how the harness itself talks TLS to it (its
/// four-letter words, when there is no plaintext port): with `openssl s_client` and these PEM
/// files.
#[derive(Debug, Clone)]
pub struct SecureClientPort {
    /// Also keep the plaintext `clientPort` (false: the servers listen on the secure port only).
    pub plaintext_too: bool,
    /// The CA that signed the servers' certificates.
    pub probe_ca: PathBuf,
    /// A client certificate the servers accept, and its key.
    pub probe_cert: PathBuf,
    /// The key of `probe_cert`.
    pub probe_key: PathBuf,
}

impl Default for ZkEnsembleBuilder {
    fn default() -> Self {
        ZkEnsembleBuilder {
            servers: 1,
            tick_time: Duration::from_millis(200),
            min_session_timeout: None,
            max_session_timeout: None,
            init_limit: 25,
            sync_limit: 10,
            heap: "256m".into(),
            start_timeout: Duration::from_secs(60),
            extra_config: Vec::new(),
            jvm_args: Vec::new(),
            extra_classpath: Vec::new(),
            secure: None,
            keep: Vec::new(),
        }
    }
}

impl ZkEnsembleBuilder {
    /// Number of servers: 1 runs a standalone server, more run a quorum ensemble (use an odd
    /// number, normally 3).
    pub fn servers(mut self, n: usize) -> Self {
        assert!(n >= 1, "a ZooKeeper ensemble needs at least one server");
        self.servers = n;
        self
    }

    /// ZooKeeper's `tickTime` (whole milliseconds). Session timeouts are negotiated in
    /// `[minSessionTimeout, maxSessionTimeout]`, and the quorum limits below count ticks.
    pub fn tick_time(mut self, tick: Duration) -> Self {
        assert!(tick.as_millis() >= 1, "tickTime must be at least 1 ms");
        self.tick_time = tick;
        self
    }

    /// `minSessionTimeout`: the server raises shorter requested session timeouts to this.
    pub fn min_session_timeout(mut self, t: Duration) -> Self {
        self.min_session_timeout = Some(t);
        self
    }

    /// `maxSessionTimeout`: the server lowers longer requested session timeouts to this.
    pub fn max_session_timeout(mut self, t: Duration) -> Self {
        self.max_session_timeout = Some(t);
        self
    }

    /// `initLimit` in ticks (how long a follower may take to connect and sync to a leader).
    pub fn init_limit(mut self, ticks: u32) -> Self {
        self.init_limit = ticks;
        self
    }

    /// `syncLimit` in ticks (how far a follower may fall behind / stay silent before the
    /// leader drops it).
    pub fn sync_limit(mut self, ticks: u32) -> Self {
        self.sync_limit = ticks;
        self
    }

    /// The JVM's `-Xmx` value, e.g. `"256m"`.
    pub fn heap(mut self, heap: &str) -> Self {
        self.heap = heap.into();
        self
    }

    /// How long [`ZkEnsembleBuilder::start`] and [`ZkEnsemble::start_server`] wait for the
    /// server(s) to serve before panicking.
    pub fn start_timeout(mut self, t: Duration) -> Self {
        self.start_timeout = t;
        self
    }

    /// Adds a raw `key=value` line to every server's zoo.cfg (added last, so it wins over the
    /// harness's own settings).
    pub fn config(mut self, key: &str, value: &str) -> Self {
        self.extra_config.push((key.into(), value.into()));
        self
    }

    /// Writes the configs, starts every server and waits until all of them serve (for an
    /// ensemble: all are leader or follower and exactly one is leader). Panics with the tail
    /// of the server logs if that does not happen within the start timeout.
    pub fn start(self) -> ZkEnsemble {
        let root = tempfile::Builder::new().prefix("fhs-zk-").tempdir().expect("create temp dir for ZooKeeper");
        let servers: Vec<ZkServer> = (0..self.servers)
            .map(|i| {
                let dir = root.path().join(format!("server{}", i + 1));
                ZkServer {
                    myid: i + 1,
                    client_port: pick_free_port(),
                    secure_port: self.secure.as_ref().map(|_| pick_free_port()),
                    peer_port: pick_free_port(),
                    election_port: pick_free_port(),
                    data_dir: dir.join("data"),
                    log_path: dir.join("server.log"),
                    cfg_path: dir.join("zoo.cfg"),
                    dir,
                    child: Mutex::new(None),
                }
            })
            .collect();
        let ensemble = ZkEnsemble { root_path: root.path().to_path_buf(), root: Some(root), servers, settings: self };
        for s in &ensemble.servers {
            std::fs::create_dir_all(&s.data_dir).expect("create dataDir");
            std::fs::write(s.data_dir.join("myid"), format!("{}\n", s.myid)).expect("write myid");
            std::fs::write(&s.cfg_path, ensemble.zoo_cfg(s)).expect("write zoo.cfg");
        }
        for i in 0..ensemble.servers.len() {
            ensemble.spawn(i);
        }
        let all: Vec<usize> = (0..ensemble.servers.len()).collect();
        ensemble.wait_serving(&all, "start");
        ensemble
    }
}

#[derive(Debug)]
struct ZkServer {
    /// `myid`, 1-based (server index + 1).
    myid: usize,
    client_port: u16,
    /// `secureClientPort`, when the builder asked for one.
    secure_port: Option<u16>,
    peer_port: u16,
    election_port: u16,
    dir: PathBuf,
    data_dir: PathBuf,
    log_path: PathBuf,
    cfg_path: PathBuf,
    child: Mutex<Option<Child>>,
}

/// A running ZooKeeper server or ensemble on 127.0.0.1. Servers are indexed from 0 (server
/// `i` has `myid` `i + 1`). Dropping it SIGKILLs and reaps every server; the temp dir is
/// removed, except while panicking, when it is kept and its path printed to stderr.
///
/// All methods take `&self`, so an ensemble can be shared between threads (e.g. in an `Arc`).
#[derive(Debug)]
pub struct ZkEnsemble {
    root: Option<tempfile::TempDir>,
    root_path: PathBuf,
    servers: Vec<ZkServer>,
    settings: ZkEnsembleBuilder,
}

impl ZkEnsemble {
    /// A builder with the defaults listed on [`ZkEnsembleBuilder`].
    pub fn builder() -> ZkEnsembleBuilder {
        ZkEnsembleBuilder::default()
    }

    /// Starts `n` servers with the default settings and waits until they serve
    /// (`n == 1`: standalone; `n == 3`: a three-node ensemble).
    pub fn start(n: usize) -> ZkEnsemble {
        ZkEnsemble::builder().servers(n).start()
    }

    /// Number of servers (running or stopped).
    pub fn len(&self) -> usize {
        self.servers.len()
    }

    /// Always `false`: an ensemble has at least one server.
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// `"127.0.0.1:s1,127.0.0.1:s2,..."`: the secure client ports of all servers. Panics
    /// unless the ensemble was built with a secure client port.
    pub fn secure_connect_string(&self) -> String {
        (0..self.len()).map(|i| format!("127.0.0.1:{}", self.secure_port(i))).collect::<Vec<_>>().join(",")
    }

    /// Server `i`'s `secureClientPort`; panics unless the ensemble has one.
    pub fn secure_port(&self, i: usize) -> u16 {
        self.servers[i].secure_port.expect("the ensemble was built without a secure client port")
    }

    /// Whether the servers listen on a plaintext client port (false for a TLS-only ensemble).
    pub fn has_plaintext_port(&self) -> bool {
        self.settings.secure.as_ref().is_none_or(|s| s.plaintext_too)
    }

    /// Server `i`'s zoo.cfg.
    pub fn cfg_path(&self, i: usize) -> &Path {
        &self.servers[i].cfg_path
    }

    /// `"127.0.0.1:p1,127.0.0.1:p2,..."` over all servers (stopped ones included, as a client
    /// of a real ensemble would be configured).
    pub fn connect_string(&self) -> String {
        (0..self.len()).map(|i| self.server_address(i)).collect::<Vec<_>>().join(",")
    }

    /// `"127.0.0.1:<client port>"` of server `i`.
    pub fn server_address(&self, i: usize) -> String {
        format!("127.0.0.1:{}", self.servers[i].client_port)
    }

    /// Server `i`'s client address as a `SocketAddr` (e.g. for [`super::BlackholeProxy`]).
    pub fn socket_addr(&self, i: usize) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.servers[i].client_port))
    }

    /// Client port of server `i`.
    pub fn client_port(&self, i: usize) -> u16 {
        self.servers[i].client_port
    }

    /// The configured `tickTime`.
    pub fn tick_time(&self) -> Duration {
        self.settings.tick_time
    }

    /// The session-timeout range the servers negotiate into (`minSessionTimeout`,
    /// `maxSessionTimeout`).
    pub fn session_timeout_range(&self) -> (Duration, Duration) {
        (self.min_session_timeout(), self.max_session_timeout())
    }

    /// Server `i`'s log file (stdout and stderr of its JVM; appended across restarts).
    pub fn log_path(&self, i: usize) -> &Path {
        &self.servers[i].log_path
    }

    /// Server `i`'s dataDir.
    pub fn data_dir(&self, i: usize) -> &Path {
        &self.servers[i].data_dir
    }

    /// The temp dir holding every server's config, data and log.
    pub fn root_dir(&self) -> &Path {
        &self.root_path
    }

    /// The last `lines` lines of server `i`'s log.
    pub fn log_tail(&self, i: usize, lines: usize) -> String {
        tail(&self.servers[i].log_path, lines)
    }

    /// Process id of server `i`'s JVM, `None` if it is stopped.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.servers[i].child.lock().unwrap().as_ref().map(Child::id)
    }

    /// Whether server `i`'s process is running (started and not exited).
    pub fn is_running(&self, i: usize) -> bool {
        let mut guard = self.servers[i].child.lock().unwrap();
        match guard.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// SIGKILLs server `i`'s JVM and waits for it to be reaped. No-op if it is stopped.
    pub fn stop(&self, i: usize) {
        let taken = self.servers[i].child.lock().unwrap().take();
        if let Some(mut child) = taken {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// [`stop`](Self::stop)s every server.
    pub fn stop_all(&self) {
        for i in 0..self.len() {
            self.stop(i);
        }
    }

    /// Restarts stopped server `i` with the same dataDir and ports and waits until it serves
    /// (standalone, or leader/follower of a quorum, which needs a majority running).
    /// Panics if server `i` is already running or does not serve within the start timeout.
    pub fn start_server(&self, i: usize) {
        self.start_servers(&[i]);
    }

    /// Restarts several stopped servers at once and waits until all of them serve (e.g. two
    /// of three after a total outage, which neither could do alone).
    pub fn start_servers(&self, indices: &[usize]) {
        for &i in indices {
            assert!(!self.is_running(i), "start_server({i}): server {i} is already running");
            self.spawn(i);
        }
        self.wait_serving(indices, "restart");
    }

    /// Restarts every stopped server and waits until the whole ensemble serves.
    pub fn start_all(&self) {
        let stopped: Vec<usize> = (0..self.len()).filter(|&i| !self.is_running(i)).collect();
        self.start_servers(&stopped);
    }

    /// `Mode:` reported by server `i` to `srvr` (`"standalone"`, `"leader"`, `"follower"`,
    /// ...), `None` if it is stopped, unreachable or not serving (e.g. electing a leader).
    pub fn server_mode(&self, i: usize) -> Option<String> {
        let reply = self.four_letter_timeout(i, "srvr", Duration::from_millis(1500)).ok()?;
        reply.lines().find_map(|l| l.strip_prefix("Mode: ")).map(|m| m.trim().to_string())
    }

    /// Sends a four-letter word (`srvr`, `ruok`, `stat`, `mntr`, `cons`, ...) to server `i`
    /// and returns the reply; through TLS when the servers have no plaintext port.
    pub fn four_letter(&self, i: usize, word: &str) -> std::io::Result<String> {
        self.four_letter_timeout(i, word, Duration::from_secs(3))
    }

    fn four_letter_timeout(&self, i: usize, word: &str, timeout: Duration) -> std::io::Result<String> {
        match &self.settings.secure {
            Some(tls) if !tls.plaintext_too => {
                super::zk_secure::four_letter_word_tls(self.secure_port(i), tls, word, timeout)
            }
            _ => four_letter_word(self.socket_addr(i), word, timeout),
        }
    }

    /// Index of the server that answers `srvr` with `Mode: leader` right now (a standalone
    /// server counts as leader); `None` while there is none (election in progress, no
    /// quorum).
    pub fn leader_index(&self) -> Option<usize> {
        (0..self.len())
            .find(|&i| self.is_running(i) && matches!(self.server_mode(i).as_deref(), Some("leader" | "standalone")))
    }

    /// Waits up to `timeout` for a leader (see [`leader_index`](Self::leader_index)) and
    /// returns its index; panics with the server logs on timeout.
    #[track_caller]
    pub fn wait_for_leader(&self, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = self.leader_index() {
                return i;
            }
            if Instant::now() >= deadline {
                panic!("no ZooKeeper leader within {timeout:?}\n{}", self.describe_all());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn min_session_timeout(&self) -> Duration {
        self.settings.min_session_timeout.unwrap_or(self.settings.tick_time * 2)
    }

    fn max_session_timeout(&self) -> Duration {
        self.settings.max_session_timeout.unwrap_or(Duration::from_secs(60))
    }

    fn zoo_cfg(&self, s: &ZkServer) -> String {
        let mut cfg = String::new();
        let st = &self.settings;
        let _ = writeln!(cfg, "# written by tests/support/zk.rs");
        let _ = writeln!(cfg, "tickTime={}", st.tick_time.as_millis());
        let _ = writeln!(cfg, "initLimit={}", st.init_limit);
        let _ = writeln!(cfg, "syncLimit={}", st.sync_limit);
        let _ = writeln!(cfg, "dataDir={}", s.data_dir.display());
        if self.has_plaintext_port() {
            let _ = writeln!(cfg, "clientPort={}", s.client_port);
            let _ = writeln!(cfg, "clientPortAddress=127.0.0.1");
        }
        if let Some(port) = s.secure_port {
            let _ = writeln!(cfg, "secureClientPort={port}");
            let _ = writeln!(cfg, "secureClientPortAddress=127.0.0.1");
        }
        let _ = writeln!(cfg, "minSessionTimeout={}", self.min_session_timeout().as_millis());
        let _ = writeln!(cfg, "maxSessionTimeout={}", self.max_session_timeout().as_millis());
        let _ = writeln!(cfg, "admin.enableServer=false");
        let _ = writeln!(cfg, "4lw.commands.whitelist=*");
        // All clients come from 127.0.0.1; the default cap is 60 per address.
        let _ = writeln!(cfg, "maxClientCnxns=0");
        // The JVM is SIGKILLed, never the machine: the page cache keeps the data, and fsync
        // latency on a busy CI disk would only add noise to timing tests.
        let _ = writeln!(cfg, "forceSync=no");
        let _ = writeln!(cfg, "preAllocSize=4096");
        if self.servers.len() > 1 {
            for o in &self.servers {
                let _ = writeln!(cfg, "server.{}=127.0.0.1:{}:{}", o.myid, o.peer_port, o.election_port);
            }
        }
        for (k, v) in &st.extra_config {
            let _ = writeln!(cfg, "{k}={v}");
        }
        cfg
    }

    fn spawn(&self, i: usize) {
        let s = &self.servers[i];
        let mut log = OpenOptions::new().create(true).append(true).open(&s.log_path).expect("open ZooKeeper log file");
        let _ = writeln!(log, "===== tests/support: starting server {i} (myid {}) =====", s.myid);
        let log_err = log.try_clone().expect("clone log fd");
        let mut cmd = Command::new(java_binary());
        cmd.current_dir(&s.dir)
            .arg(format!("-Xmx{}", self.settings.heap))
            .arg("-Xms32m")
            .arg("-XX:+UseSerialGC")
            .arg("-XX:TieredStopAtLevel=1")
            .arg("-XX:-UsePerfData")
            .arg("-Djava.net.preferIPv4Stack=true")
            .arg("-Dzookeeper.jmx.log4j.disable=true")
            .arg("-Dorg.slf4j.simpleLogger.showDateTime=true")
            .arg("-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS")
            .args(&self.settings.jvm_args)
            .arg("-cp")
            .arg(self.classpath())
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(&s.cfg_path)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err));
        let child = spawn_tied(cmd).unwrap_or_else(|e| {
            panic!(
                "could not start ZooKeeper server {i} with {:?}: {e} (is Java installed? \
                 scripts/install-test-deps installs it)",
                java_binary()
            )
        });
        *s.child.lock().unwrap() = Some(child);
    }

    /// Waits until every server in `indices` serves as standalone/leader/follower and, for an
    /// ensemble, some running server is leader.
    fn wait_serving(&self, indices: &[usize], what: &str) {
        let timeout = self.settings.start_timeout;
        let deadline = Instant::now() + timeout;
        loop {
            for &i in indices {
                let exited = {
                    let mut guard = self.servers[i].child.lock().unwrap();
                    match guard.as_mut() {
                        Some(child) => child.try_wait().ok().flatten(),
                        None => None,
                    }
                };
                if let Some(status) = exited {
                    panic!("ZooKeeper server {i} exited during {what} ({status})\n{}", self.describe(i));
                }
            }
            let modes: Vec<Option<String>> = (0..self.len()).map(|i| self.server_mode(i)).collect();
            let serving =
                indices.iter().all(|&i| matches!(modes[i].as_deref(), Some("standalone" | "leader" | "follower")));
            let leaders = modes.iter().filter(|m| matches!(m.as_deref(), Some("leader" | "standalone"))).count();
            if serving && leaders == 1 {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "ZooKeeper {what}: servers {indices:?} not serving within {timeout:?} \
                     (modes: {modes:?})\n{}",
                    self.describe_all()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn classpath(&self) -> String {
        std::iter::once(classpath()).chain(self.settings.extra_classpath.iter().cloned()).collect::<Vec<_>>().join(":")
    }

    fn describe(&self, i: usize) -> String {
        format!(
            "--- server {i} ({}), log {} (last {LOG_TAIL_LINES} lines):\n{}",
            self.server_address(i),
            self.servers[i].log_path.display(),
            tail(&self.servers[i].log_path, LOG_TAIL_LINES)
        )
    }

    fn describe_all(&self) -> String {
        (0..self.len()).map(|i| self.describe(i)).collect::<Vec<_>>().join("\n")
    }
}

impl Drop for ZkEnsemble {
    fn drop(&mut self) {
        for s in &self.servers {
            let taken = match s.child.lock() {
                Ok(mut g) => g.take(),
                Err(poisoned) => poisoned.into_inner().take(),
            };
            if let Some(mut child) = taken {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if std::thread::panicking() {
            if let Some(root) = self.root.take() {
                let kept = root.keep();
                eprintln!("ZkEnsemble: test panicked; keeping ZooKeeper dirs and logs in {}", kept.display());
            }
        }
    }
}

/// Sends a ZooKeeper four-letter word to `addr` and reads the whole reply (the server closes
/// the connection after answering).
pub fn four_letter_word(addr: SocketAddr, word: &str, timeout: Duration) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(word.as_bytes())?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    Ok(reply)
}

/// The classpath the servers run with (see the module docs).
pub fn classpath() -> String {
    let mut cp = std::env::var("ZK_CLASSPATH")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_ZK_CLASSPATH.to_string());
    let has_binding = cp.split(':').any(|e| {
        let e = e.to_ascii_lowercase();
        e.contains("slf4j-") || e.contains("logback") || e.contains("reload4j")
    });
    if !has_binding && Path::new(SLF4J_SIMPLE_JAR).exists() {
        cp.push(':');
        cp.push_str(SLF4J_SIMPLE_JAR);
    }
    cp
}

fn java_binary() -> PathBuf {
    match std::env::var_os("JAVA_HOME") {
        Some(home) if Path::new(&home).join("bin/java").exists() => Path::new(&home).join("bin/java"),
        _ => PathBuf::from("java"),
    }
}

fn tail(path: &Path, lines: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("<cannot read {}: {e}>", path.display()),
    }
}
