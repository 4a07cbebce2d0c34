//! Secured test ZooKeeper servers: SASL DIGEST-MD5 logins and a TLS-only client port, with
//! every file they need made at test time.
//!
//! * [`ZkEnsembleBuilder::sasl_digest_md5`] — a JAAS file with a `Server` section of
//!   `DigestLoginModule` users, ZooKeeper's `SASLAuthenticationProvider`, and (when required)
//!   `enforce.auth.enabled=true` + `enforce.auth.schemes=sasl`: a client that does not log in is
//!   refused (ZooKeeper 3.8's `AuthFailed`) instead of being served as `world:anyone`.
//! * [`TestPki::generate`] — a CA, a server certificate it signed (SAN `IP:127.0.0.1`,
//!   `DNS:localhost`) in a PKCS12 keystore, the CA in a PKCS12 truststore, a client certificate
//!   and key as PEM (the daemon's side), and an unrelated second CA with a client certificate of
//!   its own (for "wrong CA" tests). Made with `openssl` and `keytool`.
//! * [`ZkEnsembleBuilder::tls`] — a `secureClientPort` on every server (Netty), with or without
//!   the plaintext port; the harness then sends its four-letter words through
//!   `openssl s_client`.

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use super::zk::{SecureClientPort, ZkEnsembleBuilder};

/// The keystores' password (test material only).
pub const KEYSTORE_PASSWORD: &str = "test-keystore-pw";

/// Jars Debian's `zookeeper.jar` manifest leaves out but its Netty server needs (the TLS
/// handler's codec base classes, the resolver, epoll's common part); added when present.
const NETTY_EXTRA_JARS: &[&str] = &[
    "/usr/share/java/netty-codec.jar",
    "/usr/share/java/netty-resolver.jar",
    "/usr/share/java/netty-transport-native-unix-common.jar",
];

/// Who must log in to a SASL server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaslRule {
    /// Every client must log in with SASL (`enforce.auth.enabled=true`,
    /// `enforce.auth.schemes=sasl`); a failed or missing login ends the session (`AuthFailed`).
    Required,
    /// SASL is offered; a client without it is served as `world:anyone`.
    Optional,
}

/// Whether the servers ask TLS clients for a certificate (`ssl.clientAuth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// A client without a certificate the truststore accepts is refused in the handshake.
    Need,
    /// No client certificate is asked for.
    None,
}

impl ZkEnsembleBuilder {
    /// SASL DIGEST-MD5 logins for `users` (`(name, password)`; neither may hold `"` or `\`),
    /// through a JAAS file written now. With [`SaslRule::Required`] a client that does not log
    /// in, or logs in with an unknown user or a wrong password, gets `AuthFailed`.
    pub fn sasl_digest_md5(mut self, users: &[(&str, &str)], rule: SaslRule) -> Self {
        let dir = Arc::new(tempfile::Builder::new().prefix("fhs-zk-jaas-").tempdir().expect("temp dir for JAAS"));
        let jaas = dir.path().join("jaas.conf");
        std::fs::write(&jaas, jaas_server_section(users)).expect("write the JAAS file");
        self.jvm_args.push(format!("-Djava.security.auth.login.config={}", jaas.display()));
        self.keep.push(dir);
        self = self.config("authProvider.1", "org.apache.zookeeper.server.auth.SASLAuthenticationProvider");
        if rule == SaslRule::Required {
            self = self.config("enforce.auth.enabled", "true").config("enforce.auth.schemes", "sasl");
        }
        self
    }

    /// A TLS client port (`secureClientPort`, Netty) on every server, with `pki`'s server
    /// keystore and truststore; `plaintext_too = false` removes the plaintext client port, so
    /// TLS is the only way in (connect with [`super::ZkEnsemble::secure_connect_string`]).
    pub fn tls(mut self, pki: &TestPki, client_auth: ClientAuth, plaintext_too: bool) -> Self {
        self.keep.push(pki.dir.clone());
        self.secure = Some(SecureClientPort {
            plaintext_too,
            probe_ca: pki.ca.clone(),
            probe_cert: pki.client_cert.clone(),
            probe_key: pki.client_key.clone(),
        });
        self.extra_classpath
            .extend(NETTY_EXTRA_JARS.iter().filter(|jar| Path::new(jar).exists()).map(|jar| jar.to_string()));
        let keystore = pki.server_keystore.display().to_string();
        let truststore = pki.truststore.display().to_string();
        self.config("serverCnxnFactory", "org.apache.zookeeper.server.NettyServerCnxnFactory")
            .config("ssl.keyStore.location", &keystore)
            .config("ssl.keyStore.password", KEYSTORE_PASSWORD)
            .config("ssl.keyStore.type", "PKCS12")
            .config("ssl.trustStore.location", &truststore)
            .config("ssl.trustStore.password", KEYSTORE_PASSWORD)
            .config("ssl.trustStore.type", "PKCS12")
            .config(
                "ssl.clientAuth",
                match client_auth {
                    ClientAuth::Need => "need",
                    ClientAuth::None => "none",
                },
            )
    }
}

/// The text of a JAAS file whose `Server` section admits `users` through ZooKeeper's
/// `DigestLoginModule`.
pub fn jaas_server_section(users: &[(&str, &str)]) -> String {
    let mut text = String::from("Server {\n    org.apache.zookeeper.server.auth.DigestLoginModule required");
    for (user, password) in users {
        assert!(
            !format!("{user}{password}").contains(['"', '\\']),
            "JAAS test users and passwords may not hold quotes or backslashes"
        );
        text.push_str(&format!("\n    user_{user}=\"{password}\""));
    }
    text.push_str(";\n};\n");
    text
}

/// Certificates and keystores for a TLS ZooKeeper, made with `openssl` and `keytool` in a temp
/// dir that lives as long as any clone of this value or an ensemble built with it. Keys are PEM
/// (PKCS#8) with mode 0600.
#[derive(Debug, Clone)]
pub struct TestPki {
    dir: Arc<tempfile::TempDir>,
    /// The CA's certificate (PEM): the `zookeeper.tls_ca_file` that trusts the servers.
    pub ca: PathBuf,
    /// A client certificate the CA signed (PEM).
    pub client_cert: PathBuf,
    /// Its key (PEM).
    pub client_key: PathBuf,
    /// The servers' certificate (PEM), SAN `IP:127.0.0.1` and `DNS:localhost`.
    pub server_cert: PathBuf,
    /// The servers' certificate, key and CA chain as a PKCS12 keystore.
    pub server_keystore: PathBuf,
    /// The CA as a PKCS12 truststore (what the servers trust client certificates by).
    pub truststore: PathBuf,
    /// An unrelated CA (PEM): it signed neither the servers' nor `client_cert`.
    pub other_ca: PathBuf,
    /// A client certificate the unrelated CA signed (PEM): the servers reject it.
    pub other_client_cert: PathBuf,
    /// Its key (PEM).
    pub other_client_key: PathBuf,
}

impl TestPki {
    /// Makes every file (a few hundred milliseconds: `openssl` and one `keytool` JVM). Panics
    /// with the tool's output if a step fails.
    pub fn generate() -> TestPki {
        let dir = tempfile::Builder::new().prefix("fhs-pki-").tempdir().expect("temp dir for certificates");
        let d = dir.path();
        make_ca(d, "ca", "flink-ha-supervisor test CA");
        make_ca(d, "other-ca", "an unrelated test CA");
        make_leaf(d, "ca", "server", "localhost", "serverAuth,clientAuth", "IP:127.0.0.1,DNS:localhost");
        make_leaf(d, "ca", "client", "flinkha-client", "clientAuth", "DNS:flinkha-client");
        make_leaf(d, "other-ca", "other-client", "flinkha-client", "clientAuth", "DNS:flinkha-client");
        let pass = format!("pass:{KEYSTORE_PASSWORD}");
        run(
            d,
            "openssl",
            &[
                "pkcs12",
                "-export",
                "-in",
                "server.pem",
                "-inkey",
                "server.key",
                "-certfile",
                "ca.pem",
                "-name",
                "server",
                "-out",
                "server.p12",
                "-passout",
                &pass,
            ],
        );
        run(
            d,
            "keytool",
            &[
                "-importcert",
                "-noprompt",
                "-alias",
                "ca",
                "-file",
                "ca.pem",
                "-keystore",
                "truststore.p12",
                "-storetype",
                "PKCS12",
                "-storepass",
                KEYSTORE_PASSWORD,
            ],
        );
        for key in ["ca.key", "other-ca.key", "server.key", "client.key", "other-client.key"] {
            std::fs::set_permissions(d.join(key), std::fs::Permissions::from_mode(0o600)).expect("chmod 600 a key");
        }
        TestPki {
            ca: d.join("ca.pem"),
            client_cert: d.join("client.pem"),
            client_key: d.join("client.key"),
            server_cert: d.join("server.pem"),
            server_keystore: d.join("server.p12"),
            truststore: d.join("truststore.p12"),
            other_ca: d.join("other-ca.pem"),
            other_client_cert: d.join("other-client.pem"),
            other_client_key: d.join("other-client.key"),
            dir: Arc::new(dir),
        }
    }

    /// The folder holding every file.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// A self-signed CA: `<name>.pem`, `<name>.key`.
fn make_ca(dir: &Path, name: &str, common_name: &str) {
    let cnf = format!("{name}.cnf");
    std::fs::write(
        dir.join(&cnf),
        format!(
            "[req]\ndistinguished_name = dn\nprompt = no\nx509_extensions = v3_ca\n[dn]\nCN = {common_name}\n\
             [v3_ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n\
             subjectKeyIdentifier = hash\n"
        ),
    )
    .expect("write a CA's openssl config");
    new_key_and_request(dir, &cnf, name, &["-x509", "-days", "3"], "pem");
}

/// A certificate `<name>.pem` with key `<name>.key`, signed by the CA `<ca>.pem`/`<ca>.key`.
fn make_leaf(dir: &Path, ca: &str, name: &str, common_name: &str, usage: &str, san: &str) {
    let cnf = format!("{name}.cnf");
    std::fs::write(
        dir.join(&cnf),
        format!(
            "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = {common_name}\n[ext]\n\
             basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n\
             extendedKeyUsage = {usage}\nsubjectAltName = {san}\n"
        ),
    )
    .expect("write a certificate's openssl config");
    new_key_and_request(dir, &cnf, name, &[], "csr");
    run(
        dir,
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-days",
            "3",
            "-extfile",
            &cnf,
            "-extensions",
            "ext",
            "-out",
            &format!("{name}.pem"),
        ],
    );
}

/// `openssl req -new` with a fresh P-256 key `<name>.key` and the output `<name>.<out>`: a
/// certificate signing request, or with `-x509` among `extra` a self-signed certificate.
fn new_key_and_request(dir: &Path, cnf: &str, name: &str, extra: &[&str], out: &str) {
    let (key, out) = (format!("{name}.key"), format!("{name}.{out}"));
    let mut args = vec!["req", "-new", "-config", cnf, "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
    args.extend(["-nodes", "-keyout", &key, "-out", &out]);
    args.extend(extra);
    run(dir, "openssl", &args);
}

fn run(dir: &Path, program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} (scripts/install-test-deps installs it): {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Sends a four-letter word to `127.0.0.1:port` through TLS (`openssl s_client` with the
/// probe's CA and client certificate) and returns the reply; an error if the handshake fails,
/// nothing answers, or `timeout` passes.
pub fn four_letter_word_tls(
    port: u16,
    tls: &SecureClientPort,
    word: &str,
    timeout: Duration,
) -> std::io::Result<String> {
    let secs = format!("{:.1}", timeout.as_secs_f64().max(0.5));
    let mut child = Command::new("timeout")
        .args(["-s", "KILL", secs.as_str(), "openssl", "s_client", "-quiet", "-verify_return_error", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-CAfile")
        .arg(&tls.probe_ca)
        .arg("-cert")
        .arg(&tls.probe_cert)
        .arg("-key")
        .arg(&tls.probe_key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // The server answers once the handshake is done and closes the connection after the reply.
    let _ = child.stdin.take().expect("piped stdin").write_all(word.as_bytes());
    let out = child.wait_with_output()?;
    let reply = String::from_utf8_lossy(&out.stdout).into_owned();
    if reply.is_empty() {
        return Err(std::io::Error::other(format!(
            "no TLS reply to {word} from 127.0.0.1:{port} ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(reply)
}
