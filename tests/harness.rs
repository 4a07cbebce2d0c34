//! Proves the test harness in `tests/support` against real parts: ZooKeeper servers, the
//! blackhole proxy, port picking, polling helpers and the stand-in JobManager.

mod support;

use std::collections::HashSet;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use support::standin::{events_of, http_get, read_events, standin_command};
use support::{
    pick_free_port, try_wait_for, wait_for, wait_for_async, wait_until, BlackholeProxy, KillOnDrop, ProxyMode,
    ZkEnsemble,
};
use zookeeper_client as zk;

const POLL: Duration = Duration::from_millis(20);

fn persistent() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

async fn connect(cs: &str, session_timeout: Duration) -> zk::Client {
    tokio::time::timeout(
        Duration::from_secs(10),
        zk::Client::connector().with_session_timeout(session_timeout).connect(cs),
    )
    .await
    .unwrap_or_else(|_| panic!("connect to {cs}: timed out"))
    .unwrap_or_else(|e| panic!("connect to {cs}: {e}"))
}

fn process_exists(pid: u32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_ok()
}

#[test]
fn pick_free_port_hands_out_distinct_bindable_ports() {
    let threads: Vec<_> =
        (0..8).map(|_| std::thread::spawn(|| (0..40).map(|_| pick_free_port()).collect::<Vec<_>>())).collect();
    let mut seen = HashSet::new();
    for t in threads {
        for port in t.join().unwrap() {
            assert!(seen.insert(port), "port {port} handed out twice");
        }
    }
    let port = pick_free_port();
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("picked port is bindable");
}

#[test]
fn wait_helpers_poll_until_true() {
    let mut calls = 0;
    let v = wait_for(Duration::from_secs(2), Duration::from_millis(1), || {
        calls += 1;
        (calls == 3).then_some(calls * 10)
    });
    assert_eq!(v, 30);
    let start = Instant::now();
    assert_eq!(try_wait_for(Duration::from_millis(100), Duration::from_millis(10), || None::<()>), None);
    assert!(start.elapsed() >= Duration::from_millis(100));
}

#[test]
#[should_panic(expected = "condition not met within")]
fn wait_until_panics_on_timeout() {
    wait_until(Duration::from_millis(50), Duration::from_millis(10), || false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_server_serves_clients_and_dies_with_the_ensemble() {
    let started = Instant::now();
    let ens = ZkEnsemble::start(1);
    eprintln!("standalone server serving after {:?}", started.elapsed());
    assert_eq!(ens.server_mode(0).as_deref(), Some("standalone"));
    assert_eq!(ens.leader_index(), Some(0));
    assert_eq!(ens.connect_string(), ens.server_address(0));
    assert!(ens.four_letter(0, "ruok").unwrap().contains("imok"));

    // Default range: 2 ticks (400 ms) .. 60 s, so 2 s and 10 s are granted as asked.
    let client = connect(&ens.connect_string(), Duration::from_secs(2)).await;
    assert_eq!(client.session_timeout(), Duration::from_secs(2));
    let long = connect(&ens.connect_string(), Duration::from_secs(10)).await;
    assert_eq!(long.session_timeout(), Duration::from_secs(10));

    client.create("/harness", b"hello", &persistent()).await.unwrap();
    let (data, _) = long.get_data("/harness").await.unwrap();
    assert_eq!(data, b"hello");

    let pid = ens.pid(0).unwrap();
    assert!(process_exists(pid));
    drop(ens);
    assert!(!process_exists(pid), "ZooKeeper JVM {pid} outlived the ensemble");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_timeouts_are_clamped_to_the_configured_range() {
    let ens = ZkEnsemble::builder()
        .tick_time(Duration::from_millis(100))
        .min_session_timeout(Duration::from_secs(1))
        .max_session_timeout(Duration::from_secs(3))
        .start();
    assert_eq!(ens.tick_time(), Duration::from_millis(100));
    // zookeeper-client bounds the first connect by the *requested* session timeout (and its
    // connection timeout by 2/5 of it), so a tiny request can time out on a busy machine
    // before the server gets to raise it: retry.
    let cs = ens.connect_string();
    let short = wait_for_async(Duration::from_secs(10), POLL, || async {
        zk::Client::connector().with_session_timeout(Duration::from_millis(300)).connect(&cs).await.ok()
    })
    .await;
    assert_eq!(short.session_timeout(), Duration::from_secs(1));
    let long = connect(&ens.connect_string(), Duration::from_secs(30)).await;
    assert_eq!(long.session_timeout(), Duration::from_secs(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ensemble_keeps_quorum_when_its_leader_stops() {
    let started = Instant::now();
    let ens = ZkEnsemble::start(3);
    eprintln!("3-node ensemble serving after {:?}", started.elapsed());
    assert_eq!(ens.connect_string().split(',').count(), 3);
    let modes: Vec<_> = (0..3).map(|i| ens.server_mode(i).unwrap()).collect();
    assert_eq!(modes.iter().filter(|m| *m == "leader").count(), 1, "{modes:?}");
    assert_eq!(modes.iter().filter(|m| *m == "follower").count(), 2, "{modes:?}");

    let client = connect(&ens.connect_string(), Duration::from_secs(4)).await;
    client.create("/q", b"1", &persistent()).await.unwrap();

    let old_leader = ens.leader_index().expect("a leader");
    let old_pid = ens.pid(old_leader).unwrap();
    let stopped_at = Instant::now();
    ens.stop(old_leader);
    assert!(!ens.is_running(old_leader));
    assert!(!process_exists(old_pid));
    assert_eq!(ens.server_mode(old_leader), None);
    let new_leader = tokio::task::block_in_place(|| ens.wait_for_leader(Duration::from_secs(20)));
    eprintln!("new leader {new_leader} after {:?} (old {old_leader})", stopped_at.elapsed());
    assert_ne!(new_leader, old_leader);

    // The old client reconnects to a survivor and can still write.
    wait_for_async(Duration::from_secs(15), POLL, || async {
        tokio::time::timeout(Duration::from_secs(2), client.set_data("/q", b"2", None)).await.ok().and_then(Result::ok)
    })
    .await;
    let survivor = (0..3).find(|&i| i != old_leader).unwrap();
    let direct = connect(&ens.server_address(survivor), Duration::from_secs(4)).await;
    direct.sync("/q").await.unwrap();
    assert_eq!(direct.get_data("/q").await.unwrap().0, b"2");

    // The old leader comes back with the same dataDir and ports, as a follower.
    tokio::task::block_in_place(|| ens.start_server(old_leader));
    assert_eq!(ens.server_mode(old_leader).as_deref(), Some("follower"));
    let back = connect(&ens.server_address(old_leader), Duration::from_secs(4)).await;
    back.sync("/q").await.unwrap();
    assert_eq!(back.get_data("/q").await.unwrap().0, b"2");
    eprintln!("ensemble test body took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blackhole_silences_a_session_and_restore_lets_clients_in_again() {
    let ens = ZkEnsemble::start(1);
    let proxy = BlackholeProxy::start(ens.socket_addr(0));
    assert_eq!(proxy.mode(), ProxyMode::Forward);
    let client = connect(&proxy.address(), Duration::from_secs(6)).await;
    client.create("/bh", b"x", &persistent()).await.unwrap();
    assert_eq!(proxy.connection_count(), 1);

    proxy.blackhole();
    assert_eq!(proxy.mode(), ProxyMode::Blackhole);
    let timed_out = tokio::time::timeout(Duration::from_secs(1), client.get_data("/bh")).await;
    assert!(timed_out.is_err(), "request answered through a blackhole: {timed_out:?}");

    // A new connection is accepted but hears nothing: no reset, no EOF.
    let mut raw = TcpStream::connect(proxy.socket_addr()).unwrap();
    raw.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    raw.write_all(b"ruok").unwrap();
    let mut buf = [0u8; 16];
    let err = raw.read(&mut buf).expect_err("silence expected");
    assert!(matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut), "{err:?}");

    proxy.restore();
    assert_eq!(proxy.mode(), ProxyMode::Forward);
    // restore() reset the connections that existed during the blackhole.
    raw.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let after = raw.read(&mut buf);
    assert!(matches!(&after, Err(e) if e.kind() == ErrorKind::ConnectionReset) || matches!(after, Ok(0)), "{after:?}");
    let fresh = connect(&proxy.address(), Duration::from_secs(6)).await;
    assert_eq!(fresh.get_data("/bh").await.unwrap().0, b"x");
    // The old session was shorter-lived than its timeout in the blackhole: it reconnects.
    wait_for_async(Duration::from_secs(10), POLL, || async {
        tokio::time::timeout(Duration::from_secs(1), client.get_data("/bh")).await.ok().and_then(Result::ok)
    })
    .await;
}

#[test]
fn resume_delivers_held_bytes_and_cut_refuses() {
    let ens = ZkEnsemble::start(1);
    let proxy = BlackholeProxy::to(&ens.server_address(0));
    assert_eq!(proxy.target(), ens.socket_addr(0));

    proxy.blackhole();
    let mut raw = TcpStream::connect(proxy.socket_addr()).unwrap();
    raw.write_all(b"ruok").unwrap();
    raw.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let mut reply = Vec::new();
    assert!(raw.read_to_end(&mut reply).is_err(), "silence expected");
    proxy.resume();
    raw.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    raw.read_to_end(&mut reply).unwrap();
    assert_eq!(reply, b"imok");

    // cut(): open connections are reset, new ones refused, until restore().
    let mut idle = TcpStream::connect(proxy.socket_addr()).unwrap();
    wait_until(Duration::from_secs(2), POLL, || proxy.connection_count() >= 1);
    proxy.cut();
    assert_eq!(proxy.mode(), ProxyMode::Cut);
    idle.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let err = idle.read(&mut [0u8; 4]).expect_err("reset expected");
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err:?}");
    let refused = TcpStream::connect(proxy.socket_addr()).expect_err("refused expected");
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);

    proxy.restore();
    let reply = support::four_letter_word(proxy.socket_addr(), "ruok", Duration::from_secs(3));
    assert_eq!(reply.unwrap(), "imok");
}

#[test]
fn standin_serves_overview_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let port = pick_free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut cmd = standin_command(port, "jm-a");
    cmd.arg("--start-delay")
        .arg("1s")
        .arg("--term-delay")
        .arg("300ms")
        .arg("--events")
        .arg(&events)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut jm = KillOnDrop::spawn(cmd).unwrap();

    let (status, body) =
        wait_for(Duration::from_secs(5), POLL, || http_get(&addr, "/overview", Duration::from_secs(1)).ok());
    assert_eq!(status, 503, "{body}");
    let (_, body) = wait_for(Duration::from_secs(5), POLL, || {
        http_get(&addr, "/overview", Duration::from_secs(1)).ok().filter(|(s, _)| *s == 200)
    });
    let overview: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(overview["flink-version"], "standin");
    assert_eq!(overview["standin-name"], "jm-a");
    assert_eq!(http_get(&addr, "/nope", Duration::from_secs(1)).unwrap().0, 404);

    let start = &events_of(&events, "start")[0];
    assert_eq!(start["name"], "jm-a");
    assert_eq!(start["pid"], jm.id());
    assert!(start["mono_ns"].as_u64().unwrap() > 0);
    assert!(start["wall_ms"].as_u64().unwrap() > 1_600_000_000_000);

    let term_at = Instant::now();
    jm.signal(Signal::SIGTERM).unwrap();
    let status = jm.wait_timeout(Duration::from_secs(5)).expect("exits after SIGTERM");
    assert!(status.success(), "{status}");
    assert!(term_at.elapsed() >= Duration::from_millis(300));
    let kinds: Vec<_> = read_events(&events).iter().map(|e| e["event"].as_str().unwrap().to_string()).collect();
    assert_eq!(kinds, ["start", "term", "stop"]);

    let mut out = String::new();
    jm.child().stdout.take().unwrap().read_to_string(&mut out).unwrap();
    assert!(out.contains(&format!("standin-jobmanager jm-a listening on {addr}")), "{out}");
    let mut err = String::new();
    jm.child().stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(err.contains("jm-a"), "{err}");
}

#[test]
fn standin_exclusive_lock_detects_overlap_even_after_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let lock = dir.path().join("jm.lock");
    let spawn = |name: &str| {
        let port = pick_free_port();
        let mut cmd = standin_command(port, name);
        cmd.arg("--events")
            .arg(&events)
            .arg("--exclusive")
            .arg(&lock)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let jm = KillOnDrop::spawn(cmd).unwrap();
        let addr = format!("127.0.0.1:{port}");
        wait_until(Duration::from_secs(5), POLL, || http_get(&addr, "/overview", Duration::from_secs(1)).is_ok());
        jm
    };
    let mut a = spawn("a");
    assert!(events_of(&events, "overlap").is_empty());
    let _b = spawn("b");
    let overlaps = events_of(&events, "overlap");
    assert_eq!(overlaps.len(), 1);
    assert_eq!(overlaps[0]["name"], "b");
    assert_eq!(overlaps[0]["holder"], format!("a pid {}", a.id()));

    // SIGKILL releases a's lock; b (still running) takes it over, so c overlaps with b.
    a.kill();
    wait_until(Duration::from_secs(5), POLL, || !events_of(&events, "exclusive-acquired").is_empty());
    let _c = spawn("c");
    let overlaps = events_of(&events, "overlap");
    assert_eq!(overlaps.len(), 2);
    assert_eq!(overlaps[1]["name"], "c");
    assert!(overlaps[1]["holder"].as_str().unwrap().starts_with("b pid"));
}

#[test]
fn standin_control_endpoints_crash_hang_and_exit() {
    let start = |extra: &[&str]| {
        let port = pick_free_port();
        let mut cmd = standin_command(port, "ctl");
        cmd.args(extra).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
        let jm = KillOnDrop::spawn(cmd).unwrap();
        let addr = format!("127.0.0.1:{port}");
        wait_until(Duration::from_secs(5), POLL, || http_get(&addr, "/overview", Duration::from_secs(1)).is_ok());
        (jm, addr)
    };
    let t = Duration::from_secs(2);

    let (mut jm, addr) = start(&[]);
    assert_eq!(http_get(&addr, "/control/crash", t).unwrap().0, 200);
    assert_eq!(jm.wait_timeout(t).expect("crashed").code(), Some(1));

    let (mut jm, addr) = start(&[]);
    assert_eq!(http_get(&addr, "/control/exit0", t).unwrap().0, 200);
    assert_eq!(jm.wait_timeout(t).expect("exited").code(), Some(0));

    let (mut jm, addr) = start(&["--ignore-term"]);
    assert_eq!(http_get(&addr, "/control/hang", t).unwrap().0, 200);
    let hung = http_get(&addr, "/overview", Duration::from_millis(300)).expect_err("no answer");
    assert!(matches!(hung.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut), "{hung:?}");
    jm.signal(Signal::SIGTERM).unwrap();
    assert!(jm.wait_timeout(Duration::from_millis(300)).is_none(), "SIGTERM was not ignored");
    assert!(!jm.kill().success());
}

#[test]
fn standin_rejects_bad_flags_without_panicking() {
    for args in [vec!["--bogus"], vec!["--port", "1", "--start-delay", "soon"], vec![]] {
        let out = std::process::Command::new(support::standin::standin_bin()).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("error:") && !err.contains("panicked"), "{err}");
    }
}

#[test]
fn a_server_that_cannot_start_fails_fast_with_its_log() {
    // An invalid tickTime makes QuorumPeerMain exit at once; the panic names the server and
    // carries its log tail, and the temp dir is kept for inspection (removed here).
    let started = Instant::now();
    let err = std::panic::catch_unwind(|| ZkEnsemble::builder().config("tickTime", "not-a-number").start())
        .expect_err("start must fail");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("ZooKeeper server 0 exited during start"), "{msg}");
    assert!(msg.contains("NumberFormatException"), "{msg}");
    assert!(started.elapsed() < Duration::from_secs(20), "did not fail fast");
    let kept = msg
        .split_whitespace()
        .find(|w| w.contains("/fhs-zk-") && w.ends_with("server.log"))
        .and_then(|w| std::path::Path::new(w).ancestors().nth(2))
        .expect("log path in the message");
    assert!(kept.exists());
    std::fs::remove_dir_all(kept).unwrap();
}
