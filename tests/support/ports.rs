//! Free TCP ports for servers that the tests start (ZooKeeper client/peer/election ports,
//! stand-in JobManagers, proxies).
//!
//! The obvious "bind 127.0.0.1:0 and read the port" has two races: the kernel may hand the
//! same ephemeral port to another `bind(0)` (in this or another test binary) or use it as the
//! local port of an outgoing connection before the child process binds it. So ports are taken
//! from a range *below* the kernel's ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`),
//! which the kernel never hands out on its own, and each port is
//!
//! * handed out at most once per process (a process-wide counter walks the range),
//! * reserved across processes with a POSIX record lock on byte `port` of a shared lock file
//!   in the temp dir (held until the process exits; the kernel drops it even on SIGKILL),
//! * checked free by binding it once.
//!
//! If the ephemeral range leaves no room, it falls back to `bind(0)` plus the in-process
//! "never twice" rule.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

/// Lowest port the harness hands out when the ephemeral range starts high enough.
const RANGE_FLOOR: u16 = 12000;

struct PortPool {
    /// First port of the pool (inclusive) and number of ports in it; `span == 0` means
    /// "fall back to bind(0)".
    lo: u16,
    span: u32,
    /// Where this process starts walking the range, so that concurrently running test
    /// binaries usually do not even contend for the same lock bytes.
    start: u32,
    next: AtomicU32,
    /// The shared lock file. It must stay open for the whole process: closing *any* fd of a
    /// file drops every POSIX record lock this process holds on it.
    lock_file: Option<File>,
    handed_out: Mutex<HashSet<u16>>,
}

fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|x| x.parse::<u16>());
            match (it.next(), it.next()) {
                (Some(Ok(lo)), Some(Ok(hi))) => Some((lo, hi)),
                _ => None,
            }
        })
        .unwrap_or((32768, 60999))
}

fn pool() -> &'static PortPool {
    static POOL: OnceLock<PortPool> = OnceLock::new();
    POOL.get_or_init(|| {
        let (eph_lo, eph_hi) = ephemeral_range();
        let (lo, span) = if eph_lo > RANGE_FLOOR + 1000 {
            (RANGE_FLOOR, u32::from(eph_lo - RANGE_FLOOR))
        } else if eph_hi < 64000 {
            (eph_hi + 1, u32::from(u16::MAX - eph_hi))
        } else {
            (0, 0)
        };
        let seed = std::process::id()
            ^ std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let start = if span == 0 { 0 } else { seed.wrapping_mul(2_654_435_761) % span };
        let lock_file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(std::env::temp_dir().join("flink-ha-supervisor-test-ports.lock"))
            .ok();
        PortPool { lo, span, start, next: AtomicU32::new(0), lock_file, handed_out: Mutex::new(HashSet::new()) }
    })
}

/// Tries to take an exclusive, non-blocking POSIX record lock on byte `port` of the shared
/// lock file. `true` when this process now owns the reservation (or no lock file exists).
fn reserve_across_processes(file: Option<&File>, port: u16) -> bool {
    let Some(file) = file else { return true };
    // SAFETY: an all-zero `flock` is a valid value; the fields we need are set below.
    let mut fl: nix::libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = nix::libc::F_WRLCK as _;
    fl.l_whence = nix::libc::SEEK_SET as _;
    fl.l_start = nix::libc::off_t::from(port);
    fl.l_len = 1;
    nix::fcntl::fcntl(file.as_raw_fd(), nix::fcntl::FcntlArg::F_SETLK(&fl)).is_ok()
}

fn bindable(port: u16) -> bool {
    TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// Returns a TCP port on 127.0.0.1 that is free now and that no other caller of this
/// function — in this process or in another test process on this machine — will get.
///
/// The port is not held open: bind it soon (ZooKeeper and the stand-in bind it within a
/// second or two). Ports are never handed out twice per process, so a server restarted with
/// the same port (e.g. [`super::ZkEnsemble::start_server`]) keeps its reservation.
///
/// Panics if the pool is exhausted (tens of thousands of calls in one process).
pub fn pick_free_port() -> u16 {
    let pool = pool();
    if pool.span == 0 {
        for _ in 0..1000 {
            let port = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
                .and_then(|l| l.local_addr())
                .expect("bind 127.0.0.1:0")
                .port();
            if pool.handed_out.lock().unwrap().insert(port) {
                return port;
            }
        }
        panic!("pick_free_port: could not find a port not handed out before");
    }
    loop {
        let n = pool.next.fetch_add(1, Ordering::Relaxed);
        if n >= pool.span {
            panic!(
                "pick_free_port: all {} ports in {}..{} were handed out or busy",
                pool.span,
                pool.lo,
                u32::from(pool.lo) + pool.span
            );
        }
        let port = (u32::from(pool.lo) + (pool.start + n) % pool.span) as u16;
        if !reserve_across_processes(pool.lock_file.as_ref(), port) {
            continue;
        }
        if bindable(port) {
            pool.handed_out.lock().unwrap().insert(port);
            return port;
        }
    }
}

/// Returns `n` distinct ports from [`pick_free_port`].
pub fn pick_free_ports(n: usize) -> Vec<u16> {
    (0..n).map(|_| pick_free_port()).collect()
}
