//! The gateway's Nostr key: given (`--nostr-key`, `SWARMGATE_NOSTR_KEY` or `[nostr] key`, as
//! nsec or hex), else read from `DATA_DIR/nostr.key`, else made there at the first start.
//!
//! The file holds the nsec on one line. It is written to a temporary name with mode 0600,
//! synced and renamed, so a crash never leaves half a key that the next start would refuse or,
//! worse, replace. An existing key file that its group or others can read is refused (as sshd
//! refuses such a private key): whoever reads it can publish as this gateway, and a warning in
//! a log nobody reads would not stop that. The error says how to fix it.

use std::io::Write;
use std::path::{Path, PathBuf};

use nostr::Keys;
use nostr::nips::nip19::ToBech32;

/// The key file's name in the data folder.
pub(crate) const KEY_FILE: &str = "nostr.key";

/// Why the gateway has no key; each variant names what the operator can do.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KeyError {
    /// The file exists but holds no key: replace it, or remove it to get a new key.
    #[error("{path} holds no Nostr secret key (nsec or 64 hex characters); fix or remove it")]
    Unreadable {
        /// The key file.
        path: PathBuf,
    },
    /// The file is readable by others: `chmod 600` it (and consider the key leaked).
    #[error(
        "{path} is readable by its group or others (mode {mode:o}): run `chmod 600 {path}` \
         (and, if others could read it, move it away to make a new key)"
    )]
    Exposed {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Reading or writing the file failed: check the data folder's permissions and space.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The key file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Where the key came from, for the start-up log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeySource {
    /// `--nostr-key`, the environment or the settings file.
    Given,
    /// The data folder's key file.
    Loaded,
    /// Made now, and saved in the data folder.
    Created,
}

/// `given`, else the key in `data_dir`, else a new one saved there.
pub(crate) fn gateway_key(
    given: Option<&Keys>,
    data_dir: &Path,
) -> Result<(Keys, KeySource), KeyError> {
    if let Some(keys) = given {
        return Ok((keys.clone(), KeySource::Given));
    }
    let path = data_dir.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            check_private(&path)?;
            let keys = Keys::parse(text.trim())
                .map_err(|_| KeyError::Unreadable { path: path.clone() })?;
            Ok((keys, KeySource::Loaded))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let keys = Keys::generate();
            save(&path, &keys)?;
            Ok((keys, KeySource::Created))
        }
        Err(source) => Err(KeyError::Io {
            action: "reading",
            path,
            source,
        }),
    }
}

/// Refuses a key file that its group or others may read.
#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|source| KeyError::Io {
            action: "checking",
            path: path.to_path_buf(),
            source,
        })?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(KeyError::Exposed {
            path: path.to_path_buf(),
            mode: mode & 0o777,
        });
    }
    Ok(())
}

/// Elsewhere the folder's own access rules apply.
#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<(), KeyError> {
    Ok(())
}

/// Writes `keys`' nsec to `path`: a temporary file of mode 0600, synced, then renamed.
fn save(path: &Path, keys: &Keys) -> Result<(), KeyError> {
    let io = |action| {
        move |source| KeyError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    };
    let nsec = keys
        .secret_key()
        .to_bech32()
        .expect("a secret key always has an nsec form");
    let partial = path.with_extension(format!("partial{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(&partial).and_then(|mut file| {
        file.write_all(format!("{nsec}\n").as_bytes())?;
        file.sync_all()
    });
    if let Err(error) = written.and_then(|()| std::fs::rename(&partial, path)) {
        let _ = std::fs::remove_file(&partial);
        return Err(io("writing")(error));
    }
    Ok(())
}

/// The public key as `hex` and `npub`.
pub(crate) fn public_forms(keys: &Keys) -> (String, String) {
    let public = keys.public_key();
    let npub = public
        .to_bech32()
        .expect("a public key always has an npub form");
    (public.to_hex(), npub)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_made_once_private_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let (made, source) = gateway_key(None, dir.path()).unwrap();
        assert_eq!(source, KeySource::Created);
        let path = dir.path().join(KEY_FILE);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("nsec1"), "{text}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (again, source) = gateway_key(None, dir.path()).unwrap();
        assert_eq!(source, KeySource::Loaded);
        assert_eq!(again.public_key(), made.public_key());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no leftovers"
        );
    }

    #[test]
    fn a_given_key_wins_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let given = Keys::generate();
        let (keys, source) = gateway_key(Some(&given), dir.path()).unwrap();
        assert_eq!(
            (keys.public_key(), source),
            (given.public_key(), KeySource::Given)
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn hex_files_load_and_garbage_or_exposed_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        let keys = Keys::generate();
        std::fs::write(&path, keys.secret_key().to_secret_hex()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            let (loaded, _) = gateway_key(None, dir.path()).unwrap();
            assert_eq!(loaded.public_key(), keys.public_key());
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let error = gateway_key(None, dir.path()).unwrap_err();
            assert!(
                matches!(error, KeyError::Exposed { mode: 0o644, .. }),
                "{error}"
            );
            assert!(error.to_string().contains("chmod 600"), "{error}");
            std::fs::write(&path, "not a key").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        #[cfg(not(unix))]
        std::fs::write(&path, "not a key").unwrap();
        let error = gateway_key(None, dir.path()).unwrap_err();
        assert!(matches!(error, KeyError::Unreadable { .. }), "{error}");
    }

    #[test]
    fn the_public_forms_are_hex_and_npub_of_one_key() {
        let keys = Keys::parse("0000000000000000000000000000000000000000000000000000000000000001")
            .unwrap();
        let (hex, npub) = public_forms(&keys);
        assert_eq!(
            hex,
            "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
        );
        assert_eq!(nostr::PublicKey::parse(&npub).unwrap().to_hex(), hex);
    }
}
