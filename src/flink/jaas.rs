//! Flink's own JAAS file (`flink.zookeeper_jaas_file`): the `Client` section Flink's shaded
//! ZooKeeper client logs in with (SASL DIGEST-MD5). The daemon never uses the credentials; it
//! reads the file to refuse, at load time, what would only fail inside every Flink process later:
//! a file others may read, a missing `Client` section, ZooKeeper's unshaded login module (not on
//! Flink's classpath), no user name, or the daemons' own user name.
//!
//! The file is hostile input and holds a password: nothing of its content but the section
//! names, the login module's class and the user name is kept, and errors name a line, never a
//! value.

use std::fmt;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

/// The login context Flink's ZooKeeper client uses (`zookeeper.sasl.login-context-name`,
/// Flink's and ZooKeeper's default).
pub(crate) const LOGIN_CONTEXT: &str = "Client";

/// ZooKeeper's DIGEST-MD5 login module as Flink 2.x ships it: relocated into
/// `flink-shaded-zookeeper-3`, inside `lib/flink-dist-*.jar`.
pub(crate) const SHADED_DIGEST_LOGIN_MODULE: &str =
    "org.apache.flink.shaded.zookeeper3.org.apache.zookeeper.server.auth.DigestLoginModule";

/// The same class unshaded: what ZooKeeper's own documentation names, absent from Flink.
const UNSHADED_DIGEST_LOGIN_MODULE: &str = "org.apache.zookeeper.server.auth.DigestLoginModule";

/// The largest file read: a JAAS file is a few lines.
const MAX_LEN: u64 = 64 * 1024;

/// What the `Client` section says, without the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClientLogin {
    /// The `username` option: Flink's ZooKeeper identity (`sasl:<username>` in ACLs).
    pub user: String,
}

/// Why the file is refused (displayed without the key; the caller names it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JaasError(String);

impl fmt::Display for JaasError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads and checks the file at `path`: a regular file no group or other may read or write,
/// with a `Client` section whose first login module is [`SHADED_DIGEST_LOGIN_MODULE`] with a
/// `username` and a `password`.
pub(crate) fn read_client_login(path: &Path) -> Result<ClientLogin, JaasError> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| JaasError(format!("{shown}: cannot read it: {e}")))?;
    if !meta.is_file() {
        return Err(JaasError(format!("{shown} is not a regular file")));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(JaasError(format!(
            "{shown}: readable by others (mode {mode:04o}); it holds Flink's ZooKeeper password: run `chmod 600 {shown}`"
        )));
    }
    if meta.len() > MAX_LEN {
        return Err(JaasError(format!("{shown} is {} bytes, not a JAAS file", meta.len())));
    }
    let bytes = std::fs::read(path).map_err(|e| JaasError(format!("{shown}: cannot read it: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|_| JaasError(format!("{shown} is not UTF-8 text")))?;
    client_login(&text).map_err(|problem| JaasError(format!("{shown}: {problem}")))
}

/// The `Client` section of a JAAS file's text.
pub(crate) fn client_login(text: &str) -> Result<ClientLogin, String> {
    let sections = parse(text)?;
    let Some(entries) = sections.iter().find(|(name, _)| name == LOGIN_CONTEXT).map(|(_, e)| e) else {
        return Err(format!(
            "has no `{LOGIN_CONTEXT}` section, the login context Flink's ZooKeeper client uses; add `{LOGIN_CONTEXT} {{ {SHADED_DIGEST_LOGIN_MODULE} required username=\"...\" password=\"...\"; }};`"
        ));
    };
    let Some(entry) = entries.first() else {
        return Err(format!("its `{LOGIN_CONTEXT}` section names no login module; add {SHADED_DIGEST_LOGIN_MODULE}"));
    };
    if entry.class == UNSHADED_DIGEST_LOGIN_MODULE {
        return Err(format!(
            "its `{LOGIN_CONTEXT}` section names {UNSHADED_DIGEST_LOGIN_MODULE}, which Flink does not have (its ZooKeeper client is shaded); write {SHADED_DIGEST_LOGIN_MODULE}"
        ));
    }
    if entry.class != SHADED_DIGEST_LOGIN_MODULE {
        return Err(format!(
            "its `{LOGIN_CONTEXT}` section logs in with {:?}; only SASL DIGEST-MD5 through {SHADED_DIGEST_LOGIN_MODULE} is supported here (Flink's Kerberos login goes in its own security.kerberos.login.* keys)",
            entry.class
        ));
    }
    let option = |name: &str| entry.options.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let user = option("username").unwrap_or_default();
    if user.is_empty() || user.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "its `{LOGIN_CONTEXT}` section has no usable username=\"...\" (a name without spaces); set Flink's own ZooKeeper user"
        ));
    }
    if option("password").is_none_or(str::is_empty) {
        return Err(format!("its `{LOGIN_CONTEXT}` section has no password=\"...\"; set Flink's ZooKeeper password"));
    }
    Ok(ClientLogin { user: user.to_string() })
}

/// One login module line: class, flag, options (values included, kept private to this module).
struct Entry {
    class: String,
    options: Vec<(String, String)>,
}

#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Open,
    Close,
    Semicolon,
    Equals,
}

/// Sections (name, entries) of JAAS's `Name { Class Flag key=value ...; ... };` syntax, with
/// `//`, `/* */` and `#` comments. Errors name the line, never a token (it may be a password).
fn parse(text: &str) -> Result<Vec<(String, Vec<Entry>)>, String> {
    let tokens = tokenize(text)?;
    let mut sections = Vec::new();
    let mut i = 0;
    let expected = |what: &str, i: usize| match tokens.get(i) {
        Some((_, line)) => format!("not a JAAS file: expected {what} on line {line}"),
        None => format!("not a JAAS file: expected {what} at the end of the file"),
    };
    while i < tokens.len() {
        let Some((Token::Word(name), _)) = tokens.get(i) else {
            return Err(expected("a section name", i));
        };
        if !matches!(tokens.get(i + 1), Some((Token::Open, _))) {
            return Err(expected("`{` after the section name", i + 1));
        }
        i += 2;
        let mut entries = Vec::new();
        loop {
            match tokens.get(i) {
                Some((Token::Close, _)) => {
                    i += 1;
                    break;
                }
                Some((Token::Word(class), _)) => {
                    let Some((Token::Word(flag), _)) = tokens.get(i + 1) else {
                        return Err(expected("a control flag (required, requisite, sufficient, optional)", i + 1));
                    };
                    if !["required", "requisite", "sufficient", "optional"]
                        .contains(&flag.to_ascii_lowercase().as_str())
                    {
                        return Err(expected("a control flag (required, requisite, sufficient, optional)", i + 1));
                    }
                    i += 2;
                    let mut options = Vec::new();
                    loop {
                        match tokens.get(i) {
                            Some((Token::Semicolon, _)) => {
                                i += 1;
                                break;
                            }
                            Some((Token::Word(key), _)) => {
                                if !matches!(tokens.get(i + 1), Some((Token::Equals, _))) {
                                    return Err(expected("`=` after an option name", i + 1));
                                }
                                let value = match tokens.get(i + 2) {
                                    Some((Token::Quoted(v), _)) | Some((Token::Word(v), _)) => v.clone(),
                                    _ => return Err(expected("an option value", i + 2)),
                                };
                                options.push((key.clone(), value));
                                i += 3;
                            }
                            _ => return Err(expected("an option or `;`", i)),
                        }
                    }
                    entries.push(Entry { class: class.clone(), options });
                }
                _ => return Err(expected("a login module or `}`", i)),
            }
        }
        if !matches!(tokens.get(i), Some((Token::Semicolon, _))) {
            return Err(expected("`;` after `}`", i));
        }
        i += 1;
        sections.push((name.clone(), entries));
    }
    Ok(sections)
}

/// Tokens with their line numbers.
fn tokenize(text: &str) -> Result<Vec<(Token, usize)>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            c if c.is_whitespace() => {}
            '#' => skip_line(&mut chars, &mut line),
            '/' if chars.peek() == Some(&'/') => skip_line(&mut chars, &mut line),
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let start = line;
                let mut last = ' ';
                loop {
                    match chars.next() {
                        Some('/') if last == '*' => break,
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            last = c;
                        }
                        None => {
                            return Err(format!("not a JAAS file: the comment opened on line {start} is not closed"))
                        }
                    }
                }
            }
            '{' => tokens.push((Token::Open, line)),
            '}' => tokens.push((Token::Close, line)),
            ';' => tokens.push((Token::Semicolon, line)),
            '=' => tokens.push((Token::Equals, line)),
            '"' | '\'' => {
                let start = line;
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some('\\') => match chars.next() {
                            Some(escaped) => value.push(escaped),
                            None => {
                                return Err(format!("not a JAAS file: the quote opened on line {start} is not closed"))
                            }
                        },
                        Some(other) => {
                            if other == '\n' {
                                line += 1;
                            }
                            value.push(other);
                        }
                        None => return Err(format!("not a JAAS file: the quote opened on line {start} is not closed")),
                    }
                }
                tokens.push((Token::Quoted(value), start));
            }
            c => {
                let mut word = String::from(c);
                while let Some(&next) = chars.peek() {
                    if next.is_whitespace() || matches!(next, '{' | '}' | ';' | '=' | '"' | '\'') {
                        break;
                    }
                    word.push(next);
                    chars.next();
                }
                tokens.push((Token::Word(word), line));
            }
        }
    }
    Ok(tokens)
}

fn skip_line(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, line: &mut usize) {
    for c in chars.by_ref() {
        if c == '\n' {
            *line += 1;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "// Flink's identity\nClient {\n  org.apache.flink.shaded.zookeeper3.org.apache.zookeeper.server.auth.DigestLoginModule required\n  username=\"flink\"\n  password=\"s3cr=t;}\";\n};\n";

    #[test]
    fn the_client_section_gives_the_user_and_keeps_no_password() {
        let login = client_login(GOOD).unwrap();
        assert_eq!(login, ClientLogin { user: "flink".into() });
        assert!(!format!("{login:?}").contains("s3cr"));
        // Other sections, comments of every kind and single quotes are fine.
        let text =
            format!("# a\nServer {{ a.B required user_x=\"y\"; }};\n/* multi\nline */\n{}", GOOD.replace('"', "'"));
        assert_eq!(client_login(&text).unwrap().user, "flink");
    }

    #[test]
    fn what_flink_could_not_use_is_refused_by_name() {
        for (text, words) in [
            ("Server { a.B required; };", "no `Client` section"),
            (&GOOD.replace("org.apache.flink.shaded.zookeeper3.", "")[..], "Flink does not have"),
            (&GOOD.replace("DigestLoginModule", "Krb5LoginModule")[..], "security.kerberos.login"),
            (&GOOD.replace("username=\"flink\"", "")[..], "no usable username"),
            (&GOOD.replace("username=\"flink\"", "username=\"a b\"")[..], "no usable username"),
            (&GOOD.replace("password=\"s3cr=t;}\"", "")[..], "no password"),
            ("Client { };", "names no login module"),
        ] {
            let e = client_login(text).unwrap_err();
            assert!(e.contains(words), "{words:?} missing in {e}");
        }
    }

    #[test]
    fn broken_files_name_the_line_and_never_a_value() {
        for (text, line) in [
            ("Client {\n a.B required\n password=\"hunter2\"\n", 0),
            ("Client {\n a.B maybe password=\"hunter2\";\n};", 2),
            ("Client {\n a.B required password \"hunter2\";\n};", 2),
            ("Client {\n a.B required password=\"hunter2;\n};", 2),
            ("Client\n a.B required password=\"hunter2\";\n};", 2),
            ("Client { a.B required password=hunter2; }\n", 0),
        ] {
            let e = client_login(text).unwrap_err();
            let place = if line == 0 { "at the end of the file".to_string() } else { format!("line {line}") };
            assert!(e.contains(&place), "{text:?}: {e}");
            assert!(!e.contains("hunter2"), "{e}");
        }
    }

    #[test]
    fn the_file_must_be_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flink-jaas.conf");
        std::fs::write(&path, GOOD).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = read_client_login(&path).unwrap_err().to_string();
        assert!(e.contains("readable by others (mode 0640)") && e.contains("chmod 600"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_client_login(&path).unwrap().user, "flink");
        let e = read_client_login(&dir.path().join("missing")).unwrap_err().to_string();
        assert!(e.contains("cannot read it"), "{e}");
    }

    mod fuzz {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #[test]
            fn any_text_is_read_or_refused_in_one_line(text in prop_oneof![
                any::<String>(),
                "([A-Za-z.]{1,8}|[{};='\"#/*\n ]){0,40}",
            ]) {
                match client_login(&text) {
                    Ok(login) => prop_assert!(!login.user.is_empty()),
                    Err(e) => prop_assert!(!e.contains('\n'), "{}", e),
                }
            }
        }
    }
}
