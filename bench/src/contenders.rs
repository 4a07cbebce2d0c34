//! N contenders, one leader change: how many watch notifications, and how soon the new leader
//! knows.
//!
//! Starts its own ZooKeeper server (Debian's jar, `ZK_CLASSPATH`; default tickTime 2000), then N
//! in-process contenders, each a ZooKeeper session running the daemon's own election adapter
//! (`flink_ha_supervisor::zk::election::Session`: the lock recipe, the watch on its own node, the
//! heartbeat and the control watches, exactly as `run` does). Then, `--changes` times: the
//! leader's session is closed (what a SIGTERMed daemon does after its JobManager is stopped, so
//! its node is deleted at once), and the bench measures
//!
//! * the time from the close request to the next `Elected` event (in-process, one monotonic
//!   clock): the new leader knows;
//! * how many contenders reported `Elected` (must be 1) and, from the server's `mntr` counters
//!   (`zk_sum_node_deleted_watch_count`, `..._children_...`, `..._changed_...`,
//!   `..._created_...`), how many watch notifications the change fired in total;
//! * the server's total watch count (`zk_watch_count`) before and after.
//!
//! The departed contender rejoins at the back, so N stay. One JSON line per change goes to
//! `--results` (type `contenders`); a summary is printed. Exits 1 when a change fired more than
//! one notification to a live contender, elected more than one, or took longer than `--bound-ms`.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use flink_ha_core::identity::NodeIdentity;
use flink_ha_core::machine::Event;
use flink_ha_supervisor::zk::election::{Session, SessionEvent};
use flink_ha_supervisor::zk::session::ZkTarget;
use tokio::sync::mpsc;

const PATH: &str = "/bench/contenders/leader";
const SESSION_TIMEOUT: Duration = Duration::from_secs(10);

struct Args {
    contenders: usize,
    changes: usize,
    results: Option<PathBuf>,
    bound_ms: f64,
}

fn args() -> Args {
    let mut a = Args { contenders: 100, changes: 20, results: None, bound_ms: 100.0 };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--contenders" => a.contenders = value().parse().expect("--contenders N"),
            "--changes" => a.changes = value().parse().expect("--changes N"),
            "--results" => a.results = Some(PathBuf::from(value())),
            "--bound-ms" => a.bound_ms = value().parse().expect("--bound-ms MS"),
            other => panic!("unknown argument {other}; use --contenders N --changes N --results FILE --bound-ms MS"),
        }
    }
    a
}

/// A ZooKeeper server of our own, killed on drop.
struct Zk {
    child: Child,
    port: u16,
    _dir: PathBuf,
}

impl Drop for Zk {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn four(port: u16, word: &str) -> String {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return String::new() };
    let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
    let _ = s.write_all(word.as_bytes());
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn mntr(port: u16) -> HashMap<String, f64> {
    four(port, "mntr")
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once('\t')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

fn start_zk() -> Zk {
    let dir = std::env::temp_dir().join(format!("fhs-bench-contenders-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let port = free_port();
    let cfg = dir.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             admin.enableServer=false\n4lw.commands.whitelist=*\nmaxClientCnxns=0\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let cp =
        std::env::var("ZK_CLASSPATH").unwrap_or_else(|_| "/usr/share/java/zookeeper.jar:/etc/zookeeper/conf".into());
    let log = std::fs::File::create(dir.join("zk.log")).unwrap();
    let child = Command::new("java")
        .args(["-Xmx512m", "-cp", &cp, "org.apache.zookeeper.server.quorum.QuorumPeerMain"])
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start ZooKeeper (java on PATH, ZK_CLASSPATH)");
    let zk = Zk { child, port, _dir: dir };
    let start = Instant::now();
    while four(port, "ruok") != "imok" {
        assert!(start.elapsed() < Duration::from_secs(60), "ZooKeeper did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    zk
}

fn identity(i: usize) -> Vec<u8> {
    NodeIdentity {
        node_id: format!("c{i:03}"),
        host: "bench".into(),
        rest_address: "127.0.0.1:1".into(),
        rpc_address: "127.0.0.1:2".into(),
        pid: std::process::id(),
        version: env!("CARGO_PKG_VERSION").into(),
    }
    .to_json()
}

/// Notifications fired so far, by kind, from the server's counters.
fn notifications(port: u16) -> [f64; 4] {
    let m = mntr(port);
    let g = |k: &str| m.get(&format!("zk_sum_node_{k}_watch_count")).copied().unwrap_or(0.0);
    [g("deleted"), g("children"), g("changed"), g("created")]
}

/// The contenders' sessions; events are tagged with a generation that maps to a contender.
struct Pool {
    sessions: Vec<Option<Session>>,
    owner: HashMap<u64, usize>,
    next_generation: u64,
    tx: mpsc::UnboundedSender<SessionEvent>,
    heartbeat: Duration,
}

impl Pool {
    fn start(&mut self, i: usize, client: zookeeper_client::Client) -> u64 {
        self.next_generation += 1;
        self.owner.insert(self.next_generation, i);
        let s = Session::start(
            client,
            self.next_generation,
            format!("c{i:03}"),
            PATH.into(),
            identity(i),
            self.heartbeat,
            flink_ha_supervisor::zk::acl::NodeAcl::Open,
            self.tx.clone(),
        );
        if i < self.sessions.len() {
            self.sessions[i] = Some(s);
        } else {
            self.sessions.push(Some(s));
        }
        self.next_generation
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// A new session, retrying as the daemon does: a server that has just answered `ruok` may still
/// refuse sessions for a moment, and `ZkTarget::connect` tries each server once.
async fn connect(target: &ZkTarget) -> zookeeper_client::Client {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match target.connect().await {
            Ok(client) => return client,
            Err(e) if Instant::now() < deadline => {
                eprintln!("contenders: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("contenders: {e}"),
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = args();
    let zk = start_zk();
    let target = ZkTarget::plain(format!("127.0.0.1:{}", zk.port), SESSION_TIMEOUT, Duration::from_secs(5));
    let heartbeat = flink_ha_core::timing::heartbeat_interval(SESSION_TIMEOUT);
    let (tx, mut rx) = mpsc::unbounded_channel::<SessionEvent>();
    let mut pool = Pool { sessions: Vec::new(), owner: HashMap::new(), next_generation: 0, tx, heartbeat };
    let t = Instant::now();
    let mut leader: Option<usize> = None;
    let mut generations = Vec::new();
    for i in 0..args.contenders {
        let client = connect(&target).await;
        generations.push(pool.start(i, client));
        // the first one leads: wait for it, so the queue order is the start order
        if i == 0 {
            while leader.is_none() {
                if let Some((g, Event::Elected { .. })) = rx.recv().await {
                    leader = generations.iter().position(|&x| x == g);
                }
            }
        }
    }
    let check = connect(&target).await;
    loop {
        let n = check.list_children(PATH).await.map(|c| c.len()).unwrap_or(0);
        if n == args.contenders {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(120), "only {n} of {} contenders joined", args.contenders);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "contenders: {} sessions contending under {PATH} after {:.1}s; server watch count {}",
        args.contenders,
        t.elapsed().as_secs_f64(),
        mntr(zk.port).get("zk_watch_count").copied().unwrap_or(-1.0)
    );

    let mut latencies = Vec::new();
    let mut failed = false;
    let mut out = args
        .results
        .as_ref()
        .map(|p| std::fs::OpenOptions::new().create(true).append(true).open(p).expect("open --results"));
    for change in 0..args.changes {
        // settle: let heartbeats and the recipe quiesce
        tokio::time::sleep(Duration::from_millis(300)).await;
        while rx.try_recv().is_ok() {}
        let old = leader.expect("a leader");
        let watches_before = mntr(zk.port).get("zk_watch_count").copied().unwrap_or(-1.0);
        let before = notifications(zk.port);
        let session = pool.sessions[old].take().expect("leader's session");
        let t0 = Instant::now();
        // close the leader's session: the server deletes its election node at once
        let closing = tokio::spawn(session.close(Duration::from_secs(3)));
        let mut elected = Vec::new();
        let mut first: Option<Duration> = None;
        let window = Instant::now() + Duration::from_secs(2);
        while Instant::now() < window {
            match tokio::time::timeout_at(window.into(), rx.recv()).await {
                Ok(Some((g, Event::Elected { .. }))) => {
                    if first.is_none() {
                        first = Some(t0.elapsed());
                    }
                    elected.push(pool.owner[&g]);
                }
                Ok(Some(_)) => {}
                _ => break,
            }
        }
        let _ = closing.await;
        let after = notifications(zk.port);
        let watches_after = mntr(zk.port).get("zk_watch_count").copied().unwrap_or(-1.0);
        let fired: Vec<f64> = after.iter().zip(before.iter()).map(|(a, b)| a - b).collect();
        let total: f64 = fired.iter().sum();
        let ms = first.map(|d| d.as_secs_f64() * 1000.0);
        // the closed leader's own watch on its node is dropped with its session; a count of 2
        // would mean it was fired too (to a dead session), more means a herd
        let ok = elected.len() == 1 && total <= 1.0 && ms.is_some_and(|m| m < args.bound_ms);
        failed |= !ok;
        println!(
            "change {change}: leader c{old:03} closed; elected {:?} after {}; notifications fired {total} \
             (deleted {}, children {}, changed {}, created {}); watches {watches_before} -> {watches_after}{}",
            elected.iter().map(|i| format!("c{i:03}")).collect::<Vec<_>>(),
            ms.map_or("-".into(), |m| format!("{m:.1} ms")),
            fired[0],
            fired[1],
            fired[2],
            fired[3],
            if ok { "" } else { "  <-- FAIL" }
        );
        if let Some(m) = ms {
            latencies.push(m);
        }
        if let Some(f) = out.as_mut() {
            let rec = serde_json::json!({
                "type": "contenders", "contenders": args.contenders, "change": change,
                "ts": SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64(),
                "new_leader_known_ms": ms, "elected_events": elected.len(),
                "notifications": total, "deleted": fired[0], "children": fired[1], "changed": fired[2], "created": fired[3],
                "watches_before": watches_before, "watches_after": watches_after, "ok": ok,
            });
            writeln!(f, "{rec}").unwrap();
        }
        leader = elected.first().copied();
        // the departed contender rejoins at the back of the queue
        let client = connect(&target).await;
        pool.start(old, client);
        loop {
            let n = check.list_children(PATH).await.map(|c| c.len()).unwrap_or(0);
            if n == args.contenders {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if !latencies.is_empty() {
        println!(
            "new leader known after the close: min {:.1} ms, median {:.1} ms, p95 {:.1} ms, max {:.1} ms over {} changes",
            latencies[0],
            percentile(&latencies, 50.0),
            percentile(&latencies, 95.0),
            latencies[latencies.len() - 1],
            latencies.len()
        );
    }
    drop(zk);
    if failed {
        eprintln!("contenders: FAILED (see the lines marked FAIL)");
        std::process::exit(1);
    }
}
