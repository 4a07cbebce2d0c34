//! A TCP proxy that can silently swallow traffic, to model a network partition between one
//! daemon and ZooKeeper: point the daemon at [`BlackholeProxy::address`] instead of the server.
//!
//! It runs on plain std threads (one accept thread, two per connection), so it keeps working
//! while a test blocks its own thread or async runtime.
//!
//! Modes:
//! * forwarding (initial): bytes flow both ways; a new connection is connected to the target
//!   (if the target refuses, the client's connection is reset).
//! * [`blackhole`](BlackholeProxy::blackhole): nothing is forwarded in either direction and
//!   nothing is closed. The proxy stops *reading*, so bytes wait in kernel buffers; new
//!   connections are accepted (the TCP handshake succeeds, as it would with a server that
//!   hangs) but not connected to the target. Peers see silence, never a reset.
//! * [`restore`](BlackholeProxy::restore): resets (RST) every connection that exists when it
//!   is called, dropping whatever was swallowed, then forwards new connections again. A
//!   ZooKeeper client sees a disconnect and reconnects; its session survives if the server
//!   has not expired it meanwhile. This is the documented choice for healing a partition.
//! * [`resume`](BlackholeProxy::resume): the alternative heal: existing connections carry on
//!   and deliver the bytes held during the blackhole (like TCP after a short outage), and
//!   connections accepted during the blackhole are connected to the target now.
//! * [`cut`](BlackholeProxy::cut): resets (RST) every connection and closes the listening
//!   socket, so new connections are refused (ECONNREFUSED) until `restore`/`resume`, which
//!   listen again on the same port.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use super::ports::pick_free_port;

/// How often blocked proxy threads look at the mode / closed flags.
const POLL: Duration = Duration::from_millis(10);
const READ_TIMEOUT: Duration = Duration::from_millis(20);
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// What a [`BlackholeProxy`] does with traffic right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyMode {
    /// Forwarding bytes.
    Forward,
    /// Swallowing: nothing forwarded, nothing closed.
    Blackhole,
    /// Connections reset, new ones refused.
    Cut,
}

struct Conn {
    client: TcpStream,
    closed: AtomicBool,
}

impl Conn {
    /// Marks the connection dead; its threads notice within `READ_TIMEOUT` and exit, and the
    /// client socket is then closed with SO_LINGER 0, i.e. with a RST.
    fn abort(&self) {
        set_linger_zero(&self.client);
        self.closed.store(true, Ordering::SeqCst);
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

struct Inner {
    target: SocketAddr,
    addr: SocketAddr,
    mode: RwLock<ProxyMode>,
    listener: Mutex<Option<TcpListener>>,
    conns: Mutex<Vec<(Arc<Conn>, JoinHandle<()>)>>,
    shutdown: AtomicBool,
    accepted: AtomicU64,
    live: AtomicUsize,
}

/// A TCP proxy from 127.0.0.1:<free port> to a target address whose traffic can be
/// blackholed, restored, resumed or cut (see the module docs for the exact semantics).
/// Dropping it resets all its connections and stops its threads.
pub struct BlackholeProxy {
    inner: Arc<Inner>,
    accept_thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for BlackholeProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlackholeProxy")
            .field("address", &self.inner.addr)
            .field("target", &self.inner.target)
            .field("mode", &self.mode())
            .finish()
    }
}

impl BlackholeProxy {
    /// Starts forwarding from a fresh port on 127.0.0.1 to `target`.
    pub fn start(target: SocketAddr) -> BlackholeProxy {
        let (listener, addr) = bind_listener(None);
        let inner = Arc::new(Inner {
            target,
            addr,
            mode: RwLock::new(ProxyMode::Forward),
            listener: Mutex::new(Some(listener)),
            conns: Mutex::new(Vec::new()),
            shutdown: AtomicBool::new(false),
            accepted: AtomicU64::new(0),
            live: AtomicUsize::new(0),
        });
        let accept_inner = inner.clone();
        let accept_thread = std::thread::Builder::new()
            .name(format!("proxy-accept-{}", addr.port()))
            .spawn(move || accept_loop(accept_inner))
            .expect("spawn proxy accept thread");
        BlackholeProxy { inner, accept_thread: Some(accept_thread) }
    }

    /// Like [`start`](Self::start) with a `"host:port"` target such as
    /// [`super::ZkEnsemble::server_address`].
    pub fn to(target: &str) -> BlackholeProxy {
        let addr = target.parse().unwrap_or_else(|e| panic!("BlackholeProxy::to({target:?}): {e}"));
        BlackholeProxy::start(addr)
    }

    /// Where clients connect: `"127.0.0.1:<port>"`.
    pub fn address(&self) -> String {
        self.inner.addr.to_string()
    }

    /// [`address`](Self::address) as a `SocketAddr`.
    pub fn socket_addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// The address traffic is forwarded to.
    pub fn target(&self) -> SocketAddr {
        self.inner.target
    }

    /// The current mode.
    pub fn mode(&self) -> ProxyMode {
        *self.inner.mode.read().unwrap()
    }

    /// Connections accepted so far (including reset and refused-upstream ones).
    pub fn accepted_count(&self) -> u64 {
        self.inner.accepted.load(Ordering::SeqCst)
    }

    /// Connections currently open through the proxy (or held silent by a blackhole).
    pub fn connection_count(&self) -> usize {
        self.inner.live.load(Ordering::SeqCst)
    }

    /// Stops forwarding in both directions without closing anything. When it returns, no
    /// further byte reaches either side. New connections are accepted and held silent.
    pub fn blackhole(&self) {
        self.inner.ensure_listening();
        *self.inner.mode.write().unwrap() = ProxyMode::Blackhole;
    }

    /// Heals with a reset: every connection open now is reset (RST to the client, close to
    /// the target) and its swallowed bytes dropped; then new connections are forwarded.
    /// Also undoes [`cut`](Self::cut).
    pub fn restore(&self) {
        self.inner.abort_all();
        self.inner.ensure_listening();
        *self.inner.mode.write().unwrap() = ProxyMode::Forward;
    }

    /// Heals without a reset: existing connections continue and the bytes held back during
    /// the blackhole are delivered; connections accepted meanwhile are connected to the
    /// target now. Also undoes [`cut`](Self::cut) (whose connections are gone).
    pub fn resume(&self) {
        self.inner.ensure_listening();
        *self.inner.mode.write().unwrap() = ProxyMode::Forward;
    }

    /// Resets every connection and refuses new ones (the listening socket is closed) until
    /// [`restore`](Self::restore) or [`resume`](Self::resume). When it returns, the resets
    /// have been sent.
    pub fn cut(&self) {
        {
            let mut listener = self.inner.listener.lock().unwrap();
            *self.inner.mode.write().unwrap() = ProxyMode::Cut;
            listener.take();
        }
        self.inner.abort_all();
    }
}

impl Drop for BlackholeProxy {
    fn drop(&mut self) {
        self.inner.shutdown.store(true, Ordering::SeqCst);
        self.inner.listener.lock().unwrap().take();
        self.inner.abort_all();
        if let Some(t) = self.accept_thread.take() {
            let _ = t.join();
        }
    }
}

impl Inner {
    fn mode(&self) -> ProxyMode {
        *self.mode.read().unwrap()
    }

    fn ensure_listening(&self) {
        let mut listener = self.listener.lock().unwrap();
        if listener.is_none() {
            *listener = Some(bind_listener(Some(self.addr)).0);
        }
    }

    /// Aborts every registered connection and waits until their threads are gone and their
    /// sockets closed.
    fn abort_all(&self) {
        let conns: Vec<_> = std::mem::take(&mut *self.conns.lock().unwrap());
        for (conn, _) in &conns {
            conn.abort();
        }
        for (conn, handle) in conns {
            let _ = handle.join();
            drop(conn);
        }
    }
}

fn bind_listener(addr: Option<SocketAddr>) -> (TcpListener, SocketAddr) {
    let addr = addr.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], pick_free_port())));
    // The port may be briefly unavailable right after a cut; retry for a second.
    let mut last_err = None;
    for _ in 0..100 {
        match TcpListener::bind(addr) {
            Ok(l) => {
                l.set_nonblocking(true).expect("nonblocking listener");
                return (l, addr);
            }
            Err(e) => last_err = Some(e),
        }
        std::thread::sleep(POLL);
    }
    panic!("BlackholeProxy: cannot listen on {addr}: {last_err:?}");
}

fn accept_loop(inner: Arc<Inner>) {
    while !inner.shutdown.load(Ordering::SeqCst) {
        let accepted = {
            let listener = inner.listener.lock().unwrap();
            match listener.as_ref().map(|l| l.accept()) {
                Some(Ok((stream, _))) => {
                    // Registered while the listener lock is held, so that `cut` (which takes
                    // the listener first) cannot miss it.
                    inner.accepted.fetch_add(1, Ordering::SeqCst);
                    inner.live.fetch_add(1, Ordering::SeqCst);
                    let conn = Arc::new(Conn { client: stream, closed: AtomicBool::new(false) });
                    let conn_inner = inner.clone();
                    let thread_conn = conn.clone();
                    let handle = std::thread::Builder::new()
                        .name(format!("proxy-conn-{}", inner.addr.port()))
                        .spawn(move || {
                            serve_connection(&conn_inner, &thread_conn);
                            conn_inner.live.fetch_sub(1, Ordering::SeqCst);
                        })
                        .expect("spawn proxy connection thread");
                    let mut conns = inner.conns.lock().unwrap();
                    conns.retain(|(_, h)| !h.is_finished());
                    conns.push((conn, handle));
                    true
                }
                Some(Err(_)) | None => false,
            }
        };
        if !accepted {
            std::thread::sleep(POLL);
        }
    }
}

fn serve_connection(inner: &Arc<Inner>, conn: &Arc<Conn>) {
    let _ = conn.client.set_nonblocking(false);
    let _ = conn.client.set_nodelay(true);
    // Held silent while blackholed; nothing is connected to the target yet.
    loop {
        if conn.is_closed() || inner.shutdown.load(Ordering::SeqCst) {
            return;
        }
        match inner.mode() {
            ProxyMode::Forward => break,
            ProxyMode::Blackhole => std::thread::sleep(POLL),
            ProxyMode::Cut => {
                conn.abort();
                return;
            }
        }
    }
    let upstream = match TcpStream::connect_timeout(&inner.target, CONNECT_TIMEOUT) {
        Ok(s) => Arc::new(s),
        Err(_) => {
            conn.abort();
            return;
        }
    };
    let _ = upstream.set_nodelay(true);

    let back = {
        let inner = inner.clone();
        let conn = conn.clone();
        let upstream = upstream.clone();
        std::thread::Builder::new()
            .name(format!("proxy-back-{}", inner.addr.port()))
            .spawn(move || pump(&inner, &conn, &upstream, &conn.client))
            .expect("spawn proxy pump thread")
    };
    pump(inner, conn, &conn.client, &upstream);
    let _ = back.join();
}

/// Copies `from` -> `to` while the proxy forwards. Bytes read just as a blackhole starts are
/// kept and delivered first on `resume`.
fn pump(inner: &Inner, conn: &Conn, from: &TcpStream, to: &TcpStream) {
    let _ = from.set_read_timeout(Some(READ_TIMEOUT));
    let _ = to.set_write_timeout(Some(WRITE_TIMEOUT));
    let mut buf = vec![0u8; 16 * 1024];
    let mut held: Vec<u8> = Vec::new();
    loop {
        if conn.is_closed() || inner.shutdown.load(Ordering::SeqCst) {
            return;
        }
        {
            let mode = inner.mode.read().unwrap();
            if *mode != ProxyMode::Forward {
                drop(mode);
                std::thread::sleep(POLL);
                continue;
            }
            if !held.is_empty() {
                if write_all(to, &held).is_err() {
                    conn.abort();
                    return;
                }
                held.clear();
            }
        }
        match (&*from).read(&mut buf) {
            Ok(0) => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => {
                // Forward only under the read lock, so `blackhole()` (write lock) returns only
                // once no write is in flight.
                let mode = inner.mode.read().unwrap();
                if *mode == ProxyMode::Forward && !conn.is_closed() {
                    if write_all(to, &buf[..n]).is_err() {
                        drop(mode);
                        conn.abort();
                        return;
                    }
                } else {
                    held.extend_from_slice(&buf[..n]);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => {
                conn.abort();
                return;
            }
        }
    }
}

fn write_all(mut to: &TcpStream, bytes: &[u8]) -> io::Result<()> {
    to.write_all(bytes)
}

/// SO_LINGER {on, 0}: closing the socket then sends a RST instead of a FIN.
fn set_linger_zero(stream: &TcpStream) {
    let linger = nix::libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: valid fd owned by `stream`, pointer and length describe a `linger` value.
    unsafe {
        nix::libc::setsockopt(
            stream.as_raw_fd(),
            nix::libc::SOL_SOCKET,
            nix::libc::SO_LINGER,
            (&linger as *const nix::libc::linger).cast(),
            std::mem::size_of::<nix::libc::linger>() as nix::libc::socklen_t,
        );
    }
}

/// One [`BlackholeProxy`] per server of an ensemble, switched together: a daemon connected
/// through [`connect_string`](ProxyGroup::connect_string) is partitioned from the whole
/// ensemble by [`blackhole`](ProxyGroup::blackhole).
#[derive(Debug)]
pub struct ProxyGroup {
    /// The proxies, in server order.
    pub proxies: Vec<BlackholeProxy>,
}

impl ProxyGroup {
    /// A proxy in front of each server of `ensemble`.
    pub fn for_ensemble(ensemble: &super::ZkEnsemble) -> ProxyGroup {
        ProxyGroup { proxies: (0..ensemble.len()).map(|i| BlackholeProxy::start(ensemble.socket_addr(i))).collect() }
    }

    /// `"127.0.0.1:p1,127.0.0.1:p2,..."` over the proxies.
    pub fn connect_string(&self) -> String {
        self.proxies.iter().map(BlackholeProxy::address).collect::<Vec<_>>().join(",")
    }

    /// [`BlackholeProxy::blackhole`] on every proxy.
    pub fn blackhole(&self) {
        self.proxies.iter().for_each(BlackholeProxy::blackhole);
    }

    /// [`BlackholeProxy::restore`] on every proxy.
    pub fn restore(&self) {
        self.proxies.iter().for_each(BlackholeProxy::restore);
    }

    /// [`BlackholeProxy::resume`] on every proxy.
    pub fn resume(&self) {
        self.proxies.iter().for_each(BlackholeProxy::resume);
    }

    /// [`BlackholeProxy::cut`] on every proxy.
    pub fn cut(&self) {
        self.proxies.iter().for_each(BlackholeProxy::cut);
    }
}
