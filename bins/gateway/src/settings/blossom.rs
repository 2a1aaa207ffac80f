//! `[blossom]`: the Blossom server (BUD-01/02/04/06/08/09/11/12) on its own port, over the
//! same stored files as the API.
//!
//! Its own section and file because its policy (who may upload, how much, from where a mirror
//! may fetch) is its own; the upload size limit and the admin token are the API's, so that one
//! file has one limit whichever way it comes in.

use std::net::SocketAddr;

use anyhow::{Context, bail};
use clap::Args;
use serde::Deserialize;
use swarmgate_core::Pubkey;

use super::{deserialize_size, parse_size};

/// `[blossom]` as given (flags, environment, TOML).
#[derive(Debug, Default, Clone, Args, Deserialize)]
#[command(next_help_heading = "Blossom")]
#[serde(deny_unknown_fields)]
pub struct BlossomSettings {
    /// Address of the Blossom server (blobs by sha256: GET, HEAD, DELETE; PUT /upload, /mirror,
    /// /report; GET /list/PUBKEY). [default: 0.0.0.0:8082]
    #[arg(
        id = "blossom_addr",
        long = "blossom-addr",
        env = "SWARMGATE_BLOSSOM_ADDR",
        value_name = "ADDR"
    )]
    pub addr: Option<SocketAddr>,

    /// Base URL of the Blossom server in blob descriptors, and its host for the `server` tags of
    /// authorizations. [default: the public URL's host with the Blossom port]
    #[arg(
        id = "blossom_public_url",
        long = "blossom-public-url",
        env = "SWARMGATE_BLOSSOM_PUBLIC_URL",
        value_name = "URL"
    )]
    pub public_url: Option<String>,

    /// Only these keys (hex or npub; repeatable or comma-separated) may upload, mirror or
    /// delete. [default: anyone with a valid authorization]
    #[arg(
        id = "blossom_allow_pubkeys",
        long = "blossom-allow-pubkey",
        env = "SWARMGATE_BLOSSOM_ALLOW_PUBKEY",
        value_name = "PUBKEY",
        value_delimiter = ','
    )]
    pub allow_pubkeys: Option<Vec<String>>,

    /// Bytes each key may own in total (0: no quota). [default: 0]
    #[arg(
        id = "blossom_quota",
        long = "blossom-quota",
        env = "SWARMGATE_BLOSSOM_QUOTA",
        value_name = "BYTES",
        value_parser = parse_size
    )]
    #[serde(default, deserialize_with = "deserialize_size")]
    pub quota: Option<u64>,

    /// Let PUT /mirror fetch from loopback, private and link-local addresses (for tests and
    /// private networks; a public server must not). [default: false]
    #[arg(
        id = "blossom_mirror_private",
        long = "blossom-mirror-private",
        env = "SWARMGATE_BLOSSOM_MIRROR_PRIVATE",
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub mirror_private: Option<bool>,

    /// Run no Blossom server. [default: false]
    #[arg(
        id = "blossom_disabled",
        long = "no-blossom",
        env = "SWARMGATE_NO_BLOSSOM",
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub disabled: Option<bool>,
}

impl BlossomSettings {
    /// These settings over `below`'s, field by field.
    pub(crate) fn over(self, below: BlossomSettings) -> BlossomSettings {
        BlossomSettings {
            addr: self.addr.or(below.addr),
            public_url: self.public_url.or(below.public_url),
            allow_pubkeys: self.allow_pubkeys.or(below.allow_pubkeys),
            quota: self.quota.or(below.quota),
            mirror_private: self.mirror_private.or(below.mirror_private),
            disabled: self.disabled.or(below.disabled),
        }
    }

    /// Fills in the defaults and checks the keys and the URL.
    pub(crate) fn validate(self) -> anyhow::Result<BlossomConfig> {
        let public_url = match self.public_url {
            Some(url) => {
                let url = url.trim_end_matches('/').to_owned();
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    bail!("blossom public_url must start with http:// or https://, got {url:?}");
                }
                Some(url)
            }
            None => None,
        };
        let allowed_pubkeys = match self.allow_pubkeys {
            None => None,
            Some(list) => Some(
                list.iter()
                    .map(|key| key.trim())
                    .filter(|key| !key.is_empty())
                    .map(|key| {
                        parse_pubkey(key).with_context(|| format!("--blossom-allow-pubkey {key:?}"))
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?,
            ),
        };
        Ok(BlossomConfig {
            enabled: !self.disabled.unwrap_or(false),
            addr: self.addr.unwrap_or(SocketAddr::from(([0, 0, 0, 0], 8082))),
            public_url,
            allowed_pubkeys,
            quota: self.quota.filter(|&q| q > 0),
            mirror_private: self.mirror_private.unwrap_or(false),
        })
    }
}

/// `[blossom]`, validated.
#[derive(Debug, Clone)]
pub struct BlossomConfig {
    /// Run the Blossom server.
    pub enabled: bool,
    /// Its TCP address.
    pub addr: SocketAddr,
    /// Its base URL; `None`: the gateway's public host with the bound Blossom port.
    pub public_url: Option<String>,
    /// The keys that may upload, mirror and delete; `None`: any.
    pub allowed_pubkeys: Option<Vec<Pubkey>>,
    /// Bytes each key may own.
    pub quota: Option<u64>,
    /// Mirrors may fetch from private addresses.
    pub mirror_private: bool,
}

/// A Nostr public key in hex (64 digits) or NIP-19 `npub1…`.
pub fn parse_pubkey(text: &str) -> anyhow::Result<Pubkey> {
    let key = nostr::PublicKey::parse(text)
        .map_err(|e| anyhow::anyhow!("not a Nostr public key (hex or npub): {e}"))?;
    Ok(Pubkey(key.to_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_in_hex_and_npub() {
        // The key of secret 0x…01, in both forms (NIP-19).
        let hex = "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
        let npub = {
            use nostr::nips::nip19::ToBech32;
            nostr::PublicKey::from_hex(hex)
                .unwrap()
                .to_bech32()
                .unwrap()
        };
        assert!(npub.starts_with("npub1"));
        assert_eq!(parse_pubkey(hex).unwrap(), parse_pubkey(&npub).unwrap());
        assert_eq!(parse_pubkey(hex).unwrap().to_hex(), hex);
        assert!(parse_pubkey("npub1nope").is_err());
        assert!(parse_pubkey(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn defaults_and_flags() {
        let config = BlossomSettings::default().validate().unwrap();
        assert!(config.enabled && !config.mirror_private);
        assert_eq!(config.addr, "0.0.0.0:8082".parse().unwrap());
        assert!(config.allowed_pubkeys.is_none() && config.quota.is_none());
        let bad = BlossomSettings {
            public_url: Some("ftp://x".into()),
            ..BlossomSettings::default()
        };
        assert!(bad.validate().is_err());
    }
}
