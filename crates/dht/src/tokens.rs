//! Announce tokens (BEP 5): what a `get_peers` answer hands out and an `announce_peer` must bring
//! back, so that only a host that can receive at an IP announces that IP.
//!
//! A token is the first 8 bytes of SipHash-2-4, keyed with a secret, over the asker's IP (16
//! bytes, IPv4 mapped). The secret rotates every [`TOKEN_ROTATION`] (5 minutes) and the one
//! before it is still accepted, so a token lives 5 to 10 minutes (BEP 5: "up to ten minutes").
//! Nothing is stored per asker. The token is bound to the IP alone, not the port: BEP 5 says IP,
//! and a client behind a NAT may announce from another port than it asked from. Secrets come
//! from the caller's seeded generator; checks look at `now` too, so a token does not outlive its
//! ten minutes when the owner is late to call [`Tokens::handle_timeout`].

use std::net::IpAddr;
use std::time::{Duration, Instant};

use swarmgate_core::{SplitMix64, siphash24};

use crate::bucket::ip_bytes;

/// How often the secret changes; a token is accepted until the second change after its issue.
pub const TOKEN_ROTATION: Duration = Duration::from_secs(5 * 60);

/// The length of the tokens issued.
pub const TOKEN_LEN: usize = 8;

/// The current and previous token secrets.
#[derive(Clone, Debug)]
pub struct Tokens {
    current: Secret,
    previous: Option<Secret>,
}

/// A secret and when it was drawn: its tokens are accepted for ten minutes from then.
#[derive(Clone, Copy, Debug)]
struct Secret {
    key: [u8; 16],
    drawn: Instant,
}

impl Secret {
    fn accepts(&self, now: Instant, ip: IpAddr, token: &[u8; TOKEN_LEN]) -> bool {
        now.saturating_duration_since(self.drawn) < 2 * TOKEN_ROTATION
            && same(&self::token(&self.key, ip), token)
    }
}

impl Tokens {
    /// Draws a first secret from `rng`.
    pub fn new(now: Instant, rng: &mut SplitMix64) -> Self {
        Tokens {
            current: Secret {
                key: draw(rng),
                drawn: now,
            },
            previous: None,
        }
    }

    /// The token for an asker at `ip`.
    pub fn issue(&self, ip: IpAddr) -> [u8; TOKEN_LEN] {
        token(&self.current.key, ip)
    }

    /// Whether `token` was issued to `ip` by the current secret or the previous one, drawn less
    /// than ten minutes before `now`.
    pub fn is_valid(&self, now: Instant, ip: IpAddr, token: &[u8]) -> bool {
        let Ok(token) = <[u8; TOKEN_LEN]>::try_from(token) else {
            return false;
        };
        let current = self.current.accepts(now, ip, &token);
        let previous = self.previous.is_some_and(|s| s.accepts(now, ip, &token));
        current | previous
    }

    /// When the secret next changes.
    pub fn poll_timeout(&self) -> Instant {
        self.current.drawn + TOKEN_ROTATION
    }

    /// Rotates the secret if it is due: the current one becomes the previous one. After two
    /// missed rotations both are new.
    pub fn handle_timeout(&mut self, now: Instant, rng: &mut SplitMix64) {
        let age = now.saturating_duration_since(self.current.drawn);
        if age < TOKEN_ROTATION {
            return;
        }
        self.previous = (age < 2 * TOKEN_ROTATION).then_some(self.current);
        self.current = Secret {
            key: draw(rng),
            drawn: now,
        };
    }
}

fn token(secret: &[u8; 16], ip: IpAddr) -> [u8; TOKEN_LEN] {
    siphash24(secret, &ip_bytes(ip)).to_le_bytes()
}

/// Compares without stopping at the first difference.
fn same(a: &[u8; TOKEN_LEN], b: &[u8; TOKEN_LEN]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn draw(rng: &mut SplitMix64) -> [u8; 16] {
    let mut secret = [0u8; 16];
    secret[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    secret[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
    secret
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_lives_until_the_second_rotation() {
        let start = Instant::now();
        let mut rng = SplitMix64::new(5);
        let mut tokens = Tokens::new(start, &mut rng);
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        let issued = tokens.issue(ip);
        assert!(tokens.is_valid(start, ip, &issued));
        let first = start + TOKEN_ROTATION;
        tokens.handle_timeout(first, &mut rng);
        assert!(tokens.is_valid(first, ip, &issued), "the previous secret");
        assert_ne!(tokens.issue(ip), issued, "a new secret issues new tokens");
        let second = first + TOKEN_ROTATION;
        tokens.handle_timeout(second, &mut rng);
        assert!(!tokens.is_valid(second, ip, &issued));
    }

    #[test]
    fn a_late_rotation_does_not_extend_a_token() {
        let start = Instant::now();
        let mut rng = SplitMix64::new(6);
        let tokens = Tokens::new(start, &mut rng);
        let ip: IpAddr = "2001:db8::5".parse().unwrap();
        let issued = tokens.issue(ip);
        let late = start + 2 * TOKEN_ROTATION;
        assert!(tokens.is_valid(late - Duration::from_secs(1), ip, &issued));
        assert!(
            !tokens.is_valid(late, ip, &issued),
            "ten minutes, rotation or not"
        );
        let mut rotated = tokens.clone();
        rotated.handle_timeout(late, &mut rng);
        assert!(!rotated.is_valid(late, ip, &issued), "both secrets are new");
        assert_eq!(rotated.poll_timeout(), late + TOKEN_ROTATION);
    }

    #[test]
    fn tokens_are_bound_to_the_ip_and_eight_bytes_long() {
        let now = Instant::now();
        let tokens = Tokens::new(now, &mut SplitMix64::new(7));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        let issued = tokens.issue(ip);
        assert!(
            tokens.is_valid(now, mapped, &issued),
            "an IPv4-mapped address is the IP"
        );
        assert!(!tokens.is_valid(now, "192.0.2.2".parse().unwrap(), &issued));
        assert!(!tokens.is_valid(now, ip, &issued[..7]));
        assert!(!tokens.is_valid(now, ip, &[issued.as_slice(), &[0]].concat()));
        assert!(!tokens.is_valid(now, ip, b""));
    }
}
