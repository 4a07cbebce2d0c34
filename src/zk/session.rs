//! A ZooKeeper session: where the ensemble is, who the daemons are to it (digest, SASL or
//! Kerberos, TLS),
//! making a session within a bounded time, and closing one. The daemon, `status` and the
//! maintenance commands all connect and close here.
//!
//! A connect ends in one of three ways: a session; [`Unreachable`] (no server answered: a retry
//! may work); or [`Refused`]: the servers answered and refused this identity (SASL's
//! `AuthFailed`) or the TLS handshake (an unknown CA, a rejected client certificate), which no
//! retry mends. The daemon and the commands exit 2 on a refusal, with its one line.

use std::path::PathBuf;
use std::time::Duration;

use zookeeper_client as zk;

use crate::config::{AuthMode, Secret, Settings, TlsMaterial, ZooKeeperSettings};
use crate::zk::acl::NodeAcl;
use flink_ha_core::machine::Event;
use flink_ha_core::walltime;

/// An event of one session, tagged with the session's generation so that the daemon can drop
/// late events of a session it has replaced.
pub type SessionEvent = (u64, Event);

/// How the session authenticates (`zookeeper.auth`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// Not at all.
    None,
    /// `addAuth digest user:password`.
    Digest {
        /// `zookeeper.user`.
        user: String,
        /// Its password.
        password: Secret,
    },
    /// SASL DIGEST-MD5.
    Sasl {
        /// `zookeeper.user`.
        user: String,
        /// Its password.
        password: Secret,
    },
    /// SASL GSSAPI (Kerberos), with the keytab that [`crate::zk::kerberos`] hands the GSSAPI
    /// library.
    Kerberos {
        /// `zookeeper.principal`.
        principal: String,
    },
}

/// Where and how to reach ZooKeeper.
#[derive(Debug, Clone)]
pub struct ZkTarget {
    /// `zookeeper.quorum`, with an optional chroot suffix.
    pub quorum: String,
    /// `zookeeper.session_timeout` (requested; the server may grant another).
    pub session_timeout: Duration,
    /// `zookeeper.connect_timeout`.
    pub connect_timeout: Duration,
    /// `zookeeper.auth` with its user and password.
    pub auth: Auth,
    /// `zookeeper.tls_ca_file` and what was read from the TLS files; `None`: plain TCP.
    pub tls: Option<(PathBuf, TlsMaterial)>,
    /// The ACL of every node created through this target's sessions.
    pub acl: NodeAcl,
}

/// No session could be made; displays as the one line the commands print.
#[derive(Debug, thiserror::Error)]
#[error("cannot reach ZooKeeper at {quorum}: {why}")]
pub struct Unreachable {
    /// `zookeeper.quorum`.
    pub quorum: String,
    /// What happened.
    pub why: String,
}

/// ZooKeeper refused this identity, its TLS or its access to the daemons' nodes: the
/// configuration (or the servers') needs fixing, and no retry helps. Displays as the one line
/// the daemon and the commands print before they exit 2; it names the key and the fix and
/// holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// Why a connect failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// No server answered in time: a retry may work.
    #[error(transparent)]
    Unreachable(#[from] Unreachable),
    /// The servers refused: exit 2.
    #[error(transparent)]
    Refused(#[from] Refused),
}

impl ZkTarget {
    /// The ensemble of `settings` (`[zookeeper]`), with the credentials read at load.
    pub(crate) fn of(settings: &Settings) -> ZkTarget {
        ZkTarget::of_zookeeper(&settings.zookeeper)
    }

    /// The ensemble of a `[zookeeper]` section, with the credentials read at load.
    pub(crate) fn of_zookeeper(zk: &ZooKeeperSettings) -> ZkTarget {
        let credentials = &zk.credentials;
        let auth = match (zk.auth_mode(), &zk.user, &credentials.password) {
            (Some(AuthMode::Digest), Some(user), Some(password)) => {
                Auth::Digest { user: user.clone(), password: password.clone() }
            }
            (Some(AuthMode::Sasl), Some(user), Some(password)) => {
                Auth::Sasl { user: user.clone(), password: password.clone() }
            }
            (Some(AuthMode::Kerberos), _, _) => Auth::Kerberos { principal: zk.principal.clone().unwrap_or_default() },
            // Loading refuses the other combinations.
            _ => Auth::None,
        };
        let tls = zk.tls_ca_file.clone().zip(credentials.tls.clone());
        ZkTarget {
            quorum: zk.quorum.clone(),
            session_timeout: zk.session_timeout,
            connect_timeout: zk.connect_timeout,
            acl: NodeAcl::of(zk),
            auth,
            tls,
        }
    }

    /// A target without authentication or TLS, whose nodes are open to anyone.
    pub fn plain(quorum: String, session_timeout: Duration, connect_timeout: Duration) -> ZkTarget {
        ZkTarget { quorum, session_timeout, connect_timeout, auth: Auth::None, tls: None, acl: NodeAcl::Open }
    }

    /// How long [`ZkTarget::connect`] may take: `connect_timeout` for each server, and a second.
    pub(crate) fn connect_limit(&self) -> Duration {
        let servers = self.quorum.split('/').next().unwrap_or_default().split(',').count() as u32;
        self.connect_timeout * servers.max(1) + Duration::from_secs(1)
    }

    /// Makes a new session, trying each server once within `connect_timeout`, all within
    /// [`ZkTarget::connect_limit`]. Retries are the caller's business; a [`Refused`] is not
    /// worth one.
    pub async fn connect(&self) -> Result<zk::Client, ConnectError> {
        let limit = self.connect_limit();
        let mut connector = zk::Client::connector()
            .with_session_timeout(self.session_timeout)
            .with_connection_timeout(self.connect_timeout)
            .with_fail_eagerly();
        match &self.auth {
            Auth::None => {}
            Auth::Digest { user, password } => {
                let token = format!("{user}:{}", password.expose());
                connector = connector.with_auth("digest", token.as_bytes());
            }
            Auth::Sasl { user, password } => {
                connector =
                    connector.with_sasl(zk::SaslOptions::digest_md5(user.clone(), password.expose().to_string()));
            }
            Auth::Kerberos { .. } => connector = crate::zk::kerberos::with_gssapi(connector)?,
        }
        let connecting = match &self.tls {
            Some((ca_file, material)) => {
                let options = tls_options(material).map_err(|e| {
                    Refused(format!(
                        "zookeeper.tls_ca_file {}: the TLS files cannot be used ({e}); point zookeeper.tls_ca_file, tls_cert_file and tls_key_file at PEM files",
                        ca_file.display()
                    ))
                })?;
                futures_either(connector.with_tls(options).secure_connect(&self.quorum))
            }
            None => futures_either(connector.connect(&self.quorum)),
        };
        let error = match tokio::time::timeout(limit, connecting).await {
            Ok(Ok(client)) => return Ok(client),
            Ok(Err(e)) => e,
            Err(_) => {
                let why = format!("no session within {}", walltime::format_duration(limit));
                return Err(Unreachable { quorum: self.quorum.clone(), why }.into());
            }
        };
        if let Some(why) = crate::zk::kerberos::kdc_unreachable(&error) {
            return Err(Unreachable { quorum: self.quorum.clone(), why }.into());
        }
        match self.refusal(&error) {
            Some(refused) => Err(refused.into()),
            None => Err(Unreachable { quorum: self.quorum.clone(), why: error.to_string() }.into()),
        }
    }

    /// Whether `error`, the end of a connect, is a refusal rather than servers out of reach.
    fn refusal(&self, error: &zk::Error) -> Option<Refused> {
        let quorum = &self.quorum;
        match error {
            zk::Error::AuthFailed => Some(Refused(match &self.auth {
                Auth::Sasl { user, .. } => format!(
                    "zookeeper.auth = \"sasl\": ZooKeeper at {quorum} refused the login of user `{user}` (AuthFailed); check the password in zookeeper.password_file or zookeeper.password_env and the user in the servers' JAAS file"
                ),
                Auth::Digest { user, .. } => format!(
                    "zookeeper.auth = \"digest\": ZooKeeper at {quorum} refused user `{user}` (AuthFailed); check zookeeper.user and its password, and the servers' authentication settings"
                ),
                Auth::Kerberos { principal } => format!(
                    "zookeeper.auth = \"kerberos\": ZooKeeper at {quorum} refused the login of {principal} (AuthFailed); check the servers' JAAS Server section and their Kerberos settings"
                ),
                Auth::None => format!(
                    "zookeeper.auth = \"none\": ZooKeeper at {quorum} requires authentication (AuthFailed); set zookeeper.auth, zookeeper.user and zookeeper.password_file"
                ),
            })),
            zk::Error::Custom(_) => {
                let text = error.to_string();
                if let Auth::Kerberos { principal } = &self.auth {
                    if let Some(refused) = crate::zk::kerberos::login_refusal(principal, &text) {
                        return Some(refused);
                    }
                }
                let (ca_file, _) = self.tls.as_ref()?;
                let rest = text.strip_prefix(zk::TLS_HANDSHAKE_FAILED)?;
                Some(Refused(format!(
                    "zookeeper.tls_ca_file {}: the TLS handshake with {rest}; check that this CA signed the servers' certificates, that the servers accept the client certificate (zookeeper.tls_cert_file) if they ask for one, and that zookeeper.quorum names the servers' secure client port",
                    ca_file.display()
                )))
            }
            _ => None,
        }
    }

    /// The one line for a request that ZooKeeper refused with NoAuth: `op` on `path` (as this
    /// session sees it). Names the identity, never its secret, and the fix.
    pub(crate) fn denied(&self, op: &str, path: &str) -> Refused {
        let quorum = &self.quorum;
        let fix = self.acl.fix_command(quorum, path);
        Refused(match &self.auth {
            Auth::None => format!(
                "zookeeper.auth = \"none\": ZooKeeper at {quorum} denies this unauthenticated client {op} {path} (NoAuth): the daemons' nodes are protected; set zookeeper.auth, zookeeper.user and zookeeper.password_file as the daemons have them"
            ),
            Auth::Digest { user, .. } => format!(
                "zookeeper.user `{user}`: ZooKeeper at {quorum} denies this identity {op} {path} (NoAuth); the password differs from the one the nodes were created with, or the node belongs to another identity; fix the password in zookeeper.password_file or zookeeper.password_env, or run `{fix}` as the daemons' identity (addauth digest {user}:<password>) or a super user"
            ),
            Auth::Sasl { user, .. } => format!(
                "zookeeper.user `{user}`: ZooKeeper at {quorum} denies this identity {op} {path} (NoAuth); the node belongs to another identity; run `{fix}` as the daemons' identity or a super user"
            ),
            Auth::Kerberos { principal } => format!(
                "zookeeper.principal `{principal}`: ZooKeeper at {quorum} denies this identity {op} {path} (NoAuth); the node belongs to another identity; run `{fix}` as the daemons' identity or a super user"
            ),
        })
    }
}

/// The client's TLS options from the PEM text read at load.
fn tls_options(material: &TlsMaterial) -> Result<zk::TlsOptions, zk::Error> {
    let options = zk::TlsOptions::new().with_pem_ca(&material.ca_pem)?;
    match &material.identity {
        Some((cert, key)) => options.with_pem_identity(cert, key.expose()),
        None => Ok(options),
    }
}

/// The two connects have different future types; one boxed type for both.
fn futures_either<'a>(
    future: impl std::future::Future<Output = Result<zk::Client, zk::Error>> + Send + 'a,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<zk::Client, zk::Error>> + Send + 'a>> {
    Box::pin(future)
}

/// Closes the session of `client`, which must be its last handle (dropping the last one makes
/// the client send CloseSession; the server then deletes the session's ephemeral nodes at once),
/// and waits up to `wait` for the close to be acknowledged.
pub(crate) async fn close(client: zk::Client, wait: Duration) {
    let mut state = client.state_watcher();
    drop(client);
    let _ = tokio::time::timeout(wait, async {
        while !matches!(state.peek_state(), zk::SessionState::Closed | zk::SessionState::Expired) {
            state.changed().await;
        }
    })
    .await;
}
