//! `[nostr]`, validated: the key is parsed (nsec or hex), every relay URL must be `ws://` or
//! `wss://`, every followed key must be a public key (hex or npub), so that a typo stops the
//! start with the setting's name instead of a relay that is silently never reached.

use anyhow::Context;
use nostr::{Keys, PublicKey, RelayUrl};

use super::sections::NostrSettings;

/// `[nostr]`.
#[derive(Debug, Clone, Default)]
pub struct NostrConfig {
    /// The key given by flag, environment or file; `None`: the one in the data folder
    /// (`nostr.key`, made at the first start).
    pub key: Option<Keys>,
    /// The relays announcements go to and followed keys are read from, deduplicated, without
    /// a trailing slash.
    pub relays: Vec<String>,
    /// The keys whose announcements are listed (and mirrored with `mirror_followed`).
    pub follow: Vec<PublicKey>,
    /// Hand each completed announcement of a followed key to the mirror.
    pub mirror_followed: bool,
}

impl NostrConfig {
    /// Validates the layered `[nostr]` settings.
    pub(super) fn validate(s: NostrSettings) -> anyhow::Result<NostrConfig> {
        let key = match s.key.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(Keys::parse(text).map_err(|_| {
                anyhow::anyhow!("nostr key: expected an nsec or 64 hex characters")
            })?),
        };
        let mut relays: Vec<String> = Vec::new();
        for url in listed(s.relays) {
            let parsed = RelayUrl::parse(&url)
                .with_context(|| format!("nostr relay {url:?}: expected a ws:// or wss:// URL"))?;
            let url = parsed.as_str_without_trailing_slash().to_owned();
            if !relays.contains(&url) {
                relays.push(url);
            }
        }
        let mut follow: Vec<PublicKey> = Vec::new();
        for text in listed(s.follow) {
            let key = PublicKey::parse(&text)
                .with_context(|| format!("nostr follow {text:?}: expected hex or an npub"))?;
            if !follow.contains(&key) {
                follow.push(key);
            }
        }
        let mirror_followed = s.mirror_followed.unwrap_or(false);
        if mirror_followed && follow.is_empty() {
            anyhow::bail!("mirror_followed needs at least one key to follow (--nostr-follow)");
        }
        if !follow.is_empty() && relays.is_empty() {
            anyhow::bail!("nostr follow needs at least one relay (--nostr-relay)");
        }
        Ok(NostrConfig {
            key,
            relays,
            follow,
            mirror_followed,
        })
    }
}

/// The trimmed, non-empty entries of a repeatable, comma-separated setting.
fn listed(values: Option<Vec<String>>) -> impl Iterator<Item = String> {
    values
        .unwrap_or_default()
        .into_iter()
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use nostr::nips::nip19::ToBech32;

    use crate::settings::Settings;

    const SECRET_HEX: &str = "0000000000000000000000000000000000000000000000000000000000000001";
    const PUBKEY_HEX: &str = "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";

    #[test]
    fn flags_take_repeats_and_commas_and_keys_in_either_form() {
        let npub = nostr::PublicKey::from_hex(PUBKEY_HEX)
            .unwrap()
            .to_bech32()
            .unwrap();
        let flags = Settings::try_parse_from([
            "gateway",
            "--nostr-key",
            SECRET_HEX,
            "--nostr-relay",
            "ws://127.0.0.1:7000,ws://127.0.0.1:7001/",
            "--nostr-relay",
            "wss://relay.example",
            "--nostr-relay",
            "ws://127.0.0.1:7000",
            "--nostr-follow",
            &npub,
            "--nostr-follow",
            PUBKEY_HEX,
            "--mirror-followed",
        ])
        .unwrap();
        let config = flags.resolve_with(Settings::default()).unwrap().nostr;
        assert_eq!(
            config.key.unwrap().public_key().to_hex(),
            PUBKEY_HEX,
            "the secret key 1 is the generator point"
        );
        assert_eq!(
            config.relays,
            [
                "ws://127.0.0.1:7000",
                "ws://127.0.0.1:7001",
                "wss://relay.example"
            ]
        );
        assert_eq!(config.follow.len(), 1, "npub and hex of one key");
        assert!(config.mirror_followed);
    }

    #[test]
    fn the_file_has_a_nostr_section_and_the_defaults_announce_nothing() {
        let config = Settings::default()
            .resolve_with(Settings::default())
            .unwrap()
            .nostr;
        assert!(config.key.is_none() && config.relays.is_empty() && config.follow.is_empty());
        assert!(!config.mirror_followed);
        let file = Settings::from_toml(&format!(
            "[nostr]\nrelays = [\"ws://127.0.0.1:9\"]\nfollow = [\"{PUBKEY_HEX}\"]\n\
             mirror_followed = true\nkey = \"{SECRET_HEX}\"\n"
        ))
        .unwrap();
        let config = Settings::default().resolve_with(file).unwrap().nostr;
        assert_eq!(config.relays, ["ws://127.0.0.1:9"]);
        assert_eq!(config.follow[0].to_hex(), PUBKEY_HEX);
        assert!(config.mirror_followed && config.key.is_some());
    }

    #[test]
    fn bad_nostr_settings_are_refused_with_their_name() {
        for (args, needle) in [
            (&["--nostr-key", "nsec1nope"][..], "nostr key"),
            (
                &["--nostr-relay", "http://relay.example"][..],
                "nostr relay",
            ),
            (
                &[
                    "--nostr-relay",
                    "ws://127.0.0.1:1",
                    "--nostr-follow",
                    "npub1x",
                ][..],
                "nostr follow",
            ),
            (&["--nostr-follow", PUBKEY_HEX][..], "relay"),
            (
                &["--nostr-relay", "ws://127.0.0.1:1", "--mirror-followed"][..],
                "mirror_followed",
            ),
        ] {
            let flags =
                Settings::try_parse_from(std::iter::once("gateway").chain(args.iter().copied()))
                    .unwrap();
            let error = format!("{:#}", flags.resolve_with(Settings::default()).unwrap_err());
            assert!(error.contains(needle), "{args:?}: {error}");
        }
    }
}
