//! Where the client commands (`status`, `pause`, `resume`, `handover`) find the election:
//! `--config FILE` (optional; only its `[zookeeper]`, `[election]` and `[http]` are read), and
//! `--quorum`, `--path` and the ZooKeeper security flags, which override the file's values and
//! need no file at all, so that an operator can look at or steer a cluster from any machine.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::{ClientSettings, Flag, FlagValue};

/// The arguments every client command shares.
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct Target {
    /// A TOML configuration file: its [zookeeper], [election] and [http] are read, nothing else
    /// is needed. Without it, --quorum is required.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// The ZooKeeper connect string, host:port[,host:port...][/chroot] (zookeeper.quorum).
    #[arg(long, value_name = "CONNECT_STRING")]
    pub quorum: Option<String>,
    /// The election path (election.path; default /flink/leader).
    #[arg(long, value_name = "ZNODE")]
    pub path: Option<String>,
    /// How to authenticate: none, digest, sasl or kerberos (zookeeper.auth).
    #[arg(long, value_name = "MODE")]
    pub auth: Option<String>,
    /// The ZooKeeper user (zookeeper.user).
    #[arg(long)]
    pub user: Option<String>,
    /// A file holding the password, readable by its owner alone (zookeeper.password_file).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<String>,
    /// An environment variable holding the password (zookeeper.password_env).
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// The Kerberos principal, with zookeeper.auth = kerberos (zookeeper.principal).
    #[arg(long)]
    pub principal: Option<String>,
    /// The keytab of --principal, readable by its owner alone (zookeeper.keytab).
    #[arg(long, value_name = "FILE")]
    pub keytab: Option<String>,
    /// Nodes this command creates also grant READ to anyone (zookeeper.world_readable).
    #[arg(long)]
    pub world_readable: bool,
    /// A PEM CA bundle; reach the servers through TLS (zookeeper.tls_ca_file).
    #[arg(long, value_name = "FILE")]
    pub tls_ca_file: Option<String>,
    /// A PEM client certificate (zookeeper.tls_cert_file).
    #[arg(long, value_name = "FILE")]
    pub tls_cert_file: Option<String>,
    /// The PEM private key of --tls-cert-file, readable by its owner alone (zookeeper.tls_key_file).
    #[arg(long, value_name = "FILE")]
    pub tls_key_file: Option<String>,
}

impl Target {
    /// The flags that were given, as the keys they set.
    pub(crate) fn flags(&self) -> Vec<Flag> {
        let text = [
            ("zookeeper.quorum", &self.quorum, "--quorum"),
            ("election.path", &self.path, "--path"),
            ("zookeeper.auth", &self.auth, "--auth"),
            ("zookeeper.user", &self.user, "--user"),
            ("zookeeper.password_file", &self.password_file, "--password-file"),
            ("zookeeper.password_env", &self.password_env, "--password-env"),
            ("zookeeper.principal", &self.principal, "--principal"),
            ("zookeeper.keytab", &self.keytab, "--keytab"),
            ("zookeeper.tls_ca_file", &self.tls_ca_file, "--tls-ca-file"),
            ("zookeeper.tls_cert_file", &self.tls_cert_file, "--tls-cert-file"),
            ("zookeeper.tls_key_file", &self.tls_key_file, "--tls-key-file"),
        ];
        let mut flags: Vec<Flag> = text
            .into_iter()
            .filter_map(|(key, value, flag)| Some(Flag { key, value: FlagValue::Text(value.clone()?), flag }))
            .collect();
        if self.world_readable {
            flags.push(Flag { key: "zookeeper.world_readable", value: FlagValue::On, flag: "--world-readable" });
        }
        flags
    }

    /// Loads the settings; a refusal is printed in one line and `Err` holds exit code 2. With
    /// Kerberos it also hands the keytab to the GSSAPI library, before any thread starts.
    pub(crate) fn load(&self) -> Result<ClientSettings, ExitCode> {
        let settings = ClientSettings::load(self.config.as_deref(), &self.flags()).map_err(super::refuse)?;
        crate::zk::kerberos::export_environment(&settings.zookeeper);
        Ok(settings)
    }
}
