//! This machine's host name, as the daemon writes it into its identity and the commands sign
//! their requests with.

/// The host name, or `unknown` when the system does not say (or it is not UTF-8).
pub(crate) fn name() -> String {
    lookup().unwrap_or_else(|_| "unknown".into())
}

/// The host name as the system gives it, or why there is none (the OS error, or a name that is
/// not UTF-8).
pub(crate) fn lookup() -> Result<String, String> {
    let name = nix::unistd::gethostname().map_err(|e| e.to_string())?;
    name.into_string().map_err(|_| "the host name is not valid UTF-8".to_string())
}
