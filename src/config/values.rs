//! Checks and parsers of single values: durations, `host:port`, ZooKeeper connect strings and
//! paths, the health check's URL, node names. Each returns what is wrong without the key; the
//! caller names the key and the fix.

use std::time::Duration;

/// A day: the longest duration given on the command line.
pub(super) const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// Checks `host:port` (IPv6 hosts in brackets) with a port of 1-65535.
pub(super) fn check_host_port(address: &str) -> Result<(), String> {
    if address.is_empty() {
        return Err("is empty".into());
    }
    if address.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains whitespace".into());
    }
    let (host, port) = if let Some(rest) = address.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err("has '[' without a closing ']'".into());
        };
        let Some(port) = after.strip_prefix(':') else {
            return Err("needs a :port after the bracketed host".into());
        };
        (host, port)
    } else {
        let Some((host, port)) = address.rsplit_once(':') else {
            return Err("has no :port".into());
        };
        if host.contains(':') {
            return Err("write an IPv6 host in brackets, e.g. [::1]:2181".into());
        }
        (host, port)
    };
    if host.is_empty() {
        return Err("has an empty host".into());
    }
    if host.contains(['/', '@', '[', ']']) {
        return Err(format!("host {host:?} is not a host name or address"));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 && port.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
        _ => Err(format!("port {port:?} is not a number from 1 to 65535")),
    }
}

/// The chroot of a connect string (`""` for none).
pub(crate) fn chroot_of(quorum: &str) -> &str {
    quorum.find('/').map_or("", |i| quorum[i..].trim_end_matches('/'))
}

/// Unicode formatting characters that show as nothing (zero-width, bidirectional overrides), so
/// that a name with them looks like another in logs and `status`.
pub(super) fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{feff}')
}

/// Parses a duration given on the command line (a humantime string such as `60s`), at most a
/// day: longer ones would overflow the clock's arithmetic and are refused in one line.
pub(crate) fn parse_command_line_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(d) if d <= DAY => Ok(d),
        Ok(_) => Err(format!("{text:?} is longer than a day; give a duration of at most 1day")),
        Err(e) => Err(format!("invalid duration {text:?} ({e}); write a number with a unit, e.g. \"30s\"")),
    }
}

/// Checks a ZooKeeper connect string: `host:port[,host:port...][/chroot]`.
pub(super) fn check_quorum(quorum: &str) -> Result<(), String> {
    if quorum.trim().is_empty() {
        return Err("must not be empty".into());
    }
    let (hosts, chroot) = match quorum.find('/') {
        Some(i) => (&quorum[..i], Some(&quorum[i..])),
        None => (quorum, None),
    };
    for (i, entry) in hosts.split(',').enumerate() {
        if entry.is_empty() {
            return Err(format!("entry {} is empty (a stray comma?)", i + 1));
        }
        check_host_port(entry).map_err(|problem| format!("entry {entry:?} {problem}"))?;
    }
    if let Some(chroot) = chroot {
        check_znode_path(chroot).map_err(|problem| format!("chroot {chroot:?}: {problem}"))?;
    }
    Ok(())
}

/// Checks an absolute ZooKeeper path the way the server does, and refuses "/" itself.
pub(super) fn check_znode_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("must not be empty".into());
    }
    if !path.starts_with('/') {
        return Err(format!("{path:?} is relative; it must start with '/'"));
    }
    if path == "/" {
        return Err("must not be the root \"/\" itself".into());
    }
    if path.ends_with('/') {
        return Err(format!("{path:?} must not end with '/'"));
    }
    for segment in path[1..].split('/') {
        match segment {
            "" => return Err(format!("{path:?} contains an empty segment (\"//\")")),
            "." | ".." => return Err(format!("{path:?} contains a \".\" or \"..\" segment")),
            _ => {}
        }
    }
    // The characters ZooKeeper's PathUtils refuses.
    let refused = |c: char| matches!(u32::from(c), 0x00..=0x1f | 0x7f..=0x9f | 0xd800..=0xf8ff | 0xfff0..=0xffff);
    if path.chars().any(refused) {
        return Err(format!("{path:?} contains a character ZooKeeper refuses in paths"));
    }
    Ok(())
}

/// Checks `http://host:port/path`.
pub(super) fn check_http_url(url: &str) -> Result<(), String> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") {
        return Err(format!("{url:?} uses https, but the health check speaks plain http only"));
    }
    if !lower.starts_with("http://") {
        return Err(format!("{url:?} does not start with http://"));
    }
    let rest = &url["http://".len()..];
    let Some(slash) = rest.find('/') else {
        return Err(format!("{url:?} has no path (such as /overview)"));
    };
    let (authority, path) = rest.split_at(slash);
    if authority.contains('@') {
        return Err(format!("{url:?} contains user information"));
    }
    check_host_port(authority).map_err(|problem| format!("{url:?}: host:port {problem}"))?;
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{url:?} contains whitespace"));
    }
    Ok(())
}
