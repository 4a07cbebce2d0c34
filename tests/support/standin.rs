//! Helpers around `src/bin/standin-jobmanager.rs` (see its module docs for flags, HTTP
//! endpoints and the events file format).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

/// Path of the `standin-jobmanager` binary that cargo built for this test run.
pub fn standin_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_standin-jobmanager"))
}

/// A `Command` for the stand-in with `--port port --name name`; add more flags with `.arg`,
/// then spawn it with [`super::KillOnDrop::spawn`].
pub fn standin_command(port: u16, name: &str) -> Command {
    let mut cmd = Command::new(standin_bin());
    cmd.arg("--port").arg(port.to_string()).arg("--name").arg(name);
    cmd
}

/// All events in a stand-in events file, in file order; empty if the file does not exist.
/// A partly written last line (a writer racing the read) is skipped.
pub fn read_events(path: &Path) -> Vec<Value> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => panic!("read events file {}: {e}", path.display()),
    };
    text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// The events of kind `event` (e.g. `"start"`, `"overlap"`) in a stand-in events file.
pub fn events_of(path: &Path, event: &str) -> Vec<Value> {
    read_events(path).into_iter().filter(|e| e["event"] == event).collect()
}

/// A minimal blocking `GET http://addr/path` (HTTP/1.1, `Connection: close`); returns the
/// status code and the body. Every step (connect, write, read) is bounded by `timeout`.
pub fn http_get(addr: &str, path: &str, timeout: Duration) -> io::Result<(u16, String)> {
    let sock: SocketAddr =
        addr.to_socket_addrs()?.next().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address"))?;
    let mut stream = TcpStream::connect_timeout(&sock, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("bad reply {head:?}")))?;
    Ok((status, body.to_string()))
}
