//! Kerberos (`zookeeper.auth = "kerberos"`): how the keytab reaches the GSSAPI library, and what
//! its failures mean. Built with the `kerberos` feature (zookeeper-client's `sasl-gssapi`, which
//! links the system's libgssapi_krb5); without it `zookeeper.auth = "kerberos"` is refused when
//! the settings are loaded.
//!
//! The keytab reaches MIT Kerberos through the environment, before any thread starts
//! ([`export_environment`]): `KRB5_CLIENT_KTNAME` names `zookeeper.keytab`, and `KRB5CCNAME`
//! an in-process credential cache of the daemon's own (`MEMORY:`), so the library gets a ticket
//! from the keytab at the first login, and a new one whenever the old one expires, with no
//! `kinit`, no cache file and no renewal task; and a ticket the daemon's user holds elsewhere
//! (its default cache) is never used in the keytab's place.

use std::ffi::OsString;
use std::sync::OnceLock;

use zookeeper_client as zk;

use crate::config::{AuthMode, ZooKeeperSettings};
use crate::zk::session::Refused;

/// The process's credential cache: in memory, its own, gone with the process.
pub(crate) const CREDENTIAL_CACHE: &str = "MEMORY:flink-ha-supervisor";

/// With `zookeeper.auth = "kerberos"`, points the GSSAPI library at `zookeeper.keytab` and at
/// [`CREDENTIAL_CACHE`]. Must run before the process starts any thread (the environment is not
/// safe to change while another thread may read it): the commands call it right after loading
/// the settings.
pub(crate) fn export_environment(zookeeper: &ZooKeeperSettings) {
    if zookeeper.auth_mode() != Some(AuthMode::Kerberos) {
        return;
    }
    if let Some(keytab) = &zookeeper.keytab {
        let before = VARIABLES.iter().map(|var| (*var, std::env::var_os(var))).collect();
        if BEFORE.set(before).is_err() {
            return;
        }
        let mut name = OsString::from("FILE:");
        name.push(keytab);
        std::env::set_var(VARIABLES[0], name);
        std::env::set_var(VARIABLES[1], CREDENTIAL_CACHE);
    }
}

/// The variables [`export_environment`] sets: the client keytab and the credential cache.
const VARIABLES: [&str; 2] = ["KRB5_CLIENT_KTNAME", "KRB5CCNAME"];

/// Their values before [`export_environment`] set them.
static BEFORE: OnceLock<Vec<(&'static str, Option<OsString>)>> = OnceLock::new();

/// The variables [`export_environment`] changed, with the values they had before (`None`:
/// unset): what the JobManager gets, so that the daemon's login does not become Flink's. Empty
/// when nothing was changed.
pub(crate) fn environment_before() -> &'static [(&'static str, Option<OsString>)] {
    BEFORE.get().map(Vec::as_slice).unwrap_or_default()
}

/// `connector` logging in with SASL GSSAPI as the keytab's principal, to the servers'
/// `zookeeper/<host of the connect string>` service.
#[cfg(feature = "kerberos")]
pub(crate) fn with_gssapi(connector: zk::Connector) -> Result<zk::Connector, Refused> {
    Ok(connector.with_sasl(zk::SaslOptions::gssapi()))
}

/// Without the `kerberos` feature there is no GSSAPI; loading the settings refuses it first.
#[cfg(not(feature = "kerberos"))]
pub(crate) fn with_gssapi(_connector: zk::Connector) -> Result<zk::Connector, Refused> {
    Err(Refused(
        "zookeeper.auth = \"kerberos\" is not in this build of flink-ha-supervisor; build it with --features kerberos"
            .into(),
    ))
}

/// The one line for a login the GSSAPI library could not make (`text`, the connect's error):
/// a keytab without the principal's current key, a principal or service the KDC does not know.
/// `None` when the error is no such failure.
#[cfg(feature = "kerberos")]
pub(crate) fn login_refusal(principal: &str, text: &str) -> Option<Refused> {
    let rest = text.strip_prefix(zk::SASL_LOGIN_FAILED)?;
    Some(Refused(format!(
        "zookeeper.auth = \"kerberos\": the Kerberos login of {principal} to {rest}; check that zookeeper.keytab holds the principal's current keys (kadmin: ktadd -k FILE {principal}), that the KDC knows the servers' service principal zookeeper/<host of zookeeper.quorum>, and the realm in krb5.conf (KRB5_CONFIG)"
    )))
}

/// Without the `kerberos` feature no login is made.
#[cfg(not(feature = "kerberos"))]
pub(crate) fn login_refusal(_principal: &str, _text: &str) -> Option<Refused> {
    None
}

/// Why the connect failed when the failure is a KDC that did not answer: servers out of reach
/// rather than a refusal, so the caller retries.
pub(crate) fn kdc_unreachable(error: &zk::Error) -> Option<String> {
    let text = error.to_string();
    // MIT's message for KDCs that did not answer; "Cannot find KDC for realm" (none configured
    // for the realm) is the configuration's, and a refusal.
    text.contains("Cannot contact any KDC").then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kdc_out_of_reach_is_retried_and_other_failures_are_not_its() {
        let text = "SASL login to zk1 failed: GSS-API error: (Cannot contact any KDC for realm 'EXAMPLE.COM')";
        let unreachable = zk::Error::UnexpectedError(text.into());
        assert!(kdc_unreachable(&unreachable).is_some_and(|why| why.contains("EXAMPLE.COM")));
        let stale = zk::Error::UnexpectedError("GSS-API error: (Decrypt integrity check failed)".into());
        assert_eq!(kdc_unreachable(&stale), None);
        assert_eq!(kdc_unreachable(&zk::Error::AuthFailed), None);
        let unconfigured =
            zk::Error::UnexpectedError("GSS-API error: (Cannot find KDC for realm \"EXAMPLE.COM\")".into());
        assert_eq!(kdc_unreachable(&unconfigured), None);
    }

    #[cfg(feature = "kerberos")]
    #[test]
    fn a_login_the_library_could_not_make_is_one_line_naming_the_keys() {
        let text = format!("{}zk1 failed: GSS-API error: (Decrypt integrity check failed)", zk::SASL_LOGIN_FAILED);
        let Refused(line) = login_refusal("fhs@EXAMPLE.COM", &text).expect("a refusal");
        assert!(
            line.contains("fhs@EXAMPLE.COM") && line.contains("zookeeper.keytab") && line.contains("zk1"),
            "{line}"
        );
        assert_eq!(line.lines().count(), 1);
        assert!(login_refusal("fhs@EXAMPLE.COM", "no available hosts").is_none());
    }
}
