//! The ZooKeeper credentials of `[zookeeper]`, read when the settings are loaded: the password
//! (`password_file` or `password_env`) and the TLS files (`tls_ca_file`, `tls_cert_file`,
//! `tls_key_file`). A missing, unreadable or unprotected file is a configuration error, so `run`
//! and every command refuse it at once (exit code 2) instead of failing later at a connect.
//!
//! The password and the client key are held as a [`Secret`], which prints as `<secret>` and is
//! not serialized: they appear in no log, no `check-config` output, no `/status` and no error.

use std::fmt;
use std::path::Path;

use zookeeper_client as zk;

use super::error::ConfigError;
use super::sections::{AuthMode, ZooKeeperSettings};

/// A secret value (a password, a private key): `Debug` and `Display` print `<secret>`, and it is
/// not `Serialize`, so it cannot reach the logs, `check-config` or `/status` by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub(crate) fn new(value: String) -> Secret {
        Secret(value)
    }

    /// The value itself, for the one place that hands it to the ZooKeeper client.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

/// The PEM text of the TLS files, read at load.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TlsMaterial {
    /// `tls_ca_file`'s certificates.
    pub(crate) ca_pem: String,
    /// `tls_cert_file`'s certificate chain and `tls_key_file`'s key, when set.
    pub(crate) identity: Option<(String, Secret)>,
}

/// What `[zookeeper]`'s credential keys point at, read at load. Not part of the settings'
/// serialized form.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Credentials {
    /// The password of `zookeeper.user` (auth digest or sasl).
    pub(crate) password: Option<Secret>,
    /// The TLS files, when `tls_ca_file` is set.
    pub(crate) tls: Option<TlsMaterial>,
}

/// Reads the files and the variable that `zk`'s keys name. `env` is the process environment.
pub(super) fn load_credentials(zk: &ZooKeeperSettings, env: &[(String, String)]) -> Result<Credentials, ConfigError> {
    let mut credentials = Credentials::default();
    if let (Some(AuthMode::Kerberos), Some(principal), Some(keytab)) = (zk.auth_mode(), &zk.principal, &zk.keytab) {
        check_keytab(principal, keytab)?;
    }
    if zk.auth_mode().is_some_and(|mode| matches!(mode, AuthMode::Digest | AuthMode::Sasl)) {
        let password = match (&zk.password_file, &zk.password_env) {
            (Some(file), _) => read_protected("zookeeper.password_file", file)?,
            (None, Some(var)) => match env.iter().find(|(name, _)| name == var) {
                Some((_, value)) if !value.is_empty() => value.clone(),
                _ => {
                    return Err(ConfigError::invalid(
                        "zookeeper.password_env",
                        format!("the environment variable {var} is not set or empty; export it with the password of zookeeper.user, or use zookeeper.password_file"),
                    ))
                }
            },
            // Validation requires one of them.
            (None, None) => return Ok(credentials),
        };
        let password = strip_newline(password);
        if password.is_empty() {
            let key = if zk.password_file.is_some() { "zookeeper.password_file" } else { "zookeeper.password_env" };
            return Err(ConfigError::invalid(key, "the password is empty; put the password of zookeeper.user there"));
        }
        credentials.password = Some(Secret::new(password));
    }
    if let Some(ca_file) = &zk.tls_ca_file {
        let ca_pem = read_text("zookeeper.tls_ca_file", ca_file)?;
        let options = zk::TlsOptions::new().with_pem_ca(&ca_pem).map_err(|e| {
            ConfigError::invalid(
                "zookeeper.tls_ca_file",
                format!("{}: not a PEM CA bundle ({e}); point it at the PEM file of the CA that signed the ZooKeeper servers' certificates", ca_file.display()),
            )
        })?;
        let identity = match (&zk.tls_cert_file, &zk.tls_key_file) {
            (Some(cert_file), Some(key_file)) => {
                let cert = read_text("zookeeper.tls_cert_file", cert_file)?;
                let key = Secret::new(read_protected("zookeeper.tls_key_file", key_file)?);
                options.with_pem_identity(&cert, key.expose()).map_err(|e| {
                    ConfigError::invalid(
                        "zookeeper.tls_cert_file",
                        format!("{} and zookeeper.tls_key_file {}: not a PEM certificate and its private key ({e}); point them at the client's PEM certificate and its key", cert_file.display(), key_file.display()),
                    )
                })?;
                Some((cert, key))
            }
            // Validation requires both or neither.
            _ => None,
        };
        credentials.tls = Some(TlsMaterial { ca_pem, identity });
    }
    Ok(credentials)
}

/// `zookeeper.keytab`: protected like a password file, a keytab, and `principal` its first
/// entry (the one the GSSAPI library logs in as).
fn check_keytab(principal: &str, path: &Path) -> Result<(), ConfigError> {
    const KEY: &str = "zookeeper.keytab";
    check_protected(KEY, path)?;
    let shown = path.display();
    let first = super::keytab::read_first_principal(path).map_err(|problem| {
        ConfigError::invalid(KEY, format!("{shown}: {problem}; point it at the keytab of zookeeper.principal {principal} (kadmin: ktadd -k {shown} {principal})"))
    })?;
    if first != principal {
        return Err(ConfigError::invalid(
            KEY,
            format!("{shown}: its first principal is {first}, not zookeeper.principal {principal}, and the GSSAPI library logs in as the first; make a keytab of {principal} alone (kadmin: ktadd -k FILE {principal}) or set zookeeper.principal = \"{first}\""),
        ));
    }
    Ok(())
}

/// One trailing newline (`\n` or `\r\n`) removed, as editors and `echo` leave it.
fn strip_newline(mut text: String) -> String {
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    text
}

/// Reads a file that holds a secret: refused when its group or others may read or write it
/// (as ssh refuses such a private key).
fn read_protected(key: &str, path: &Path) -> Result<String, ConfigError> {
    check_protected(key, path)?;
    read_text(key, path)
}

/// Refuses a secret file that cannot be found or that its group or others may read or write.
fn check_protected(key: &str, path: &Path) -> Result<(), ConfigError> {
    use std::os::unix::fs::PermissionsExt as _;
    let shown = path.display();
    let metadata = std::fs::metadata(path).map_err(|e| {
        ConfigError::invalid(
            key,
            format!("{shown}: cannot be read ({e}); point it at a file only the daemon's user can read (chmod 600)"),
        )
    })?;
    let mode = metadata.permissions().mode() & 0o777;
    if let Some(problem) = unprotected(mode) {
        return Err(ConfigError::invalid(
            key,
            format!("{shown}: {problem} (mode {mode:04o}); run `chmod 600 {shown}`"),
        ));
    }
    Ok(())
}

/// What is wrong with a secret file's permission bits, if anything: group and others may
/// neither read nor write it.
pub(super) fn unprotected(mode: u32) -> Option<&'static str> {
    if mode & 0o077 == 0 {
        None
    } else if mode & 0o044 != 0 {
        Some("readable by others")
    } else if mode & 0o022 != 0 {
        Some("writable by others")
    } else {
        Some("open to others")
    }
}

/// Reads a regular UTF-8 file, refusing anything else in one line that names `key`.
fn read_text(key: &str, path: &Path) -> Result<String, ConfigError> {
    super::load::read_regular_file(path).map_err(|e| {
        let why = if e.kind() == std::io::ErrorKind::InvalidData {
            "it is not UTF-8 text".to_string()
        } else {
            e.to_string()
        };
        ConfigError::invalid(key, format!("{}: cannot be read ({why}); point it at a readable file", path.display()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints() {
        let secret = Secret::new("hunter2".into());
        assert_eq!(format!("{secret:?} {secret}"), "<secret> <secret>");
        let credentials = Credentials { password: Some(secret), tls: None };
        assert!(!format!("{credentials:?}").contains("hunter2"));
        assert_eq!(credentials.password.as_ref().map(Secret::expose), Some("hunter2"));
    }

    #[test]
    fn only_the_owner_may_read_or_write_a_secret_file() {
        assert_eq!(unprotected(0o600), None);
        assert_eq!(unprotected(0o400), None);
        assert_eq!(unprotected(0o700), None);
        assert_eq!(unprotected(0o644), Some("readable by others"));
        assert_eq!(unprotected(0o604), Some("readable by others"));
        assert_eq!(unprotected(0o620), Some("writable by others"));
        assert_eq!(unprotected(0o601), Some("open to others"));
    }

    #[test]
    fn one_trailing_newline_is_stripped() {
        assert_eq!(strip_newline("pw\n".into()), "pw");
        assert_eq!(strip_newline("pw\r\n".into()), "pw");
        assert_eq!(strip_newline("pw\n\n".into()), "pw\n");
        assert_eq!(strip_newline("pw".into()), "pw");
    }
}
