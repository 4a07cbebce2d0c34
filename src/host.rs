//! This machine's host name, as the daemon writes it into its identity and the commands sign
//! their requests with.

/// The host name, or `unknown` when the system does not say (or it is not UTF-8).
pub fn name() -> String {
    nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_else(|| "unknown".into())
}
