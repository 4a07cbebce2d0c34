//! `zookeeper.keytab`, read when the settings are loaded (`zookeeper.auth = "kerberos"`): a file
//! only the daemon's user may read, in MIT's keytab format (version 0x0502, what `kadmin ktadd`
//! and `ktutil` write), whose first entry is `zookeeper.principal`. The GSSAPI library logs in
//! as the first principal of the client keytab, so a keytab that starts with another one would
//! log the daemons in as someone else; it is refused here instead.

use std::path::Path;

/// The principal of the first entry of the keytab `bytes` (`primary/instance@REALM`), or why
/// the bytes are not a keytab.
pub(crate) fn first_principal(bytes: &[u8]) -> Result<String, String> {
    let mut input = Reader { bytes, at: 0 };
    match input.take(2)? {
        [0x05, 0x02] => {}
        [0x05, 0x01] => {
            return Err(
                "a keytab of format version 1, which is not read; write it anew with kadmin's ktadd or ktutil".into()
            )
        }
        _ => return Err("not a keytab (it does not start with 0x0502)".into()),
    }
    loop {
        let size = input.i32()?;
        if size < 0 {
            // A hole left by a removed entry.
            input.take(size.unsigned_abs() as usize)?;
            continue;
        }
        if size == 0 {
            return Err("the keytab holds no key".into());
        }
        let mut entry = Reader { bytes: input.take(size as usize)?, at: 0 };
        let components = entry.u16()?;
        let realm = entry.text()?;
        let mut names = Vec::with_capacity(usize::from(components.min(8)));
        for _ in 0..components {
            names.push(entry.text()?);
        }
        if names.is_empty() {
            return Err("its first entry has a principal without a name".into());
        }
        return Ok(format!("{}@{realm}", names.join("/")));
    }
}

/// Reads `path`, already checked to be protected, and returns its first principal or the one
/// line saying what is wrong with the file.
pub(crate) fn read_first_principal(path: &Path) -> Result<String, String> {
    let bytes = super::load::read_regular_bytes(path).map_err(|e| format!("cannot be read ({e})"))?;
    first_principal(&bytes)
}

/// The primary of `principal` (`fhs` of `fhs/host@REALM`): the name ZooKeeper gives the identity
/// in ACLs (`sasl:fhs`) when its servers set `kerberos.removeHostFromPrincipal` and
/// `kerberos.removeRealmFromPrincipal`.
pub(crate) fn primary(principal: &str) -> &str {
    let name = principal.split('@').next().unwrap_or(principal);
    name.split('/').next().unwrap_or(name)
}

/// A cursor over big-endian keytab fields; running out of bytes is an error, never a panic.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|end| *end <= self.bytes.len()).ok_or("the keytab is cut short")?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self) -> Result<i32, String> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn text(&mut self) -> Result<String, String> {
        let len = self.u16()?;
        let bytes = self.take(usize::from(len))?;
        String::from_utf8(bytes.to_vec()).map_err(|_| "a principal in the keytab is not UTF-8".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(names: &[&str], realm: &str) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend((names.len() as u16).to_be_bytes());
        for part in std::iter::once(&realm).chain(names) {
            body.extend((part.len() as u16).to_be_bytes());
            body.extend(part.as_bytes());
        }
        // name type, timestamp, kvno, key type, key.
        body.extend([0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 17, 0, 2, 0xaa, 0xbb]);
        let mut out = (body.len() as i32).to_be_bytes().to_vec();
        out.extend(body);
        out
    }

    #[test]
    fn the_first_entry_names_the_principal() {
        let mut keytab = vec![5, 2];
        keytab.extend((-7i32).to_be_bytes());
        keytab.extend([0; 7]);
        keytab.extend(entry(&["fhs", "host.example"], "EXAMPLE.TEST"));
        keytab.extend(entry(&["other"], "EXAMPLE.TEST"));
        assert_eq!(first_principal(&keytab).unwrap(), "fhs/host.example@EXAMPLE.TEST");
        assert_eq!(primary("fhs/host.example@EXAMPLE.TEST"), "fhs");
        assert_eq!(primary("fhs@EXAMPLE.TEST"), "fhs");
    }

    #[test]
    fn what_is_no_keytab_is_refused() {
        assert!(first_principal(b"").is_err());
        assert!(first_principal(b"password\n").unwrap_err().contains("not a keytab"));
        assert!(first_principal(&[5, 1]).unwrap_err().contains("version 1"));
        assert!(first_principal(&[5, 2, 0, 0, 0, 0]).unwrap_err().contains("no key"));
        assert!(first_principal(&[5, 2]).unwrap_err().contains("cut short"));
    }

    proptest! {
        #[test]
        fn any_bytes_give_a_principal_or_a_reason(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut keytab = vec![5, 2];
            keytab.extend(bytes);
            let _ = first_principal(&keytab);
        }
    }
}
