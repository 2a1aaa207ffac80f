//! Announce tokens: accepted from the current and the previous secret only, bound to the asker's
//! IP; forged and expired tokens refused.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use swarmgate_core::SplitMix64;
use swarmgate_dht::{TOKEN_LEN, TOKEN_ROTATION, Tokens};

#[test]
fn tokens_are_valid_for_the_current_and_previous_secret_only() {
    let start = Instant::now();
    let mut rng = SplitMix64::new(1);
    let mut tokens = Tokens::new(start, &mut rng);
    let ip: IpAddr = "203.0.113.5".parse().unwrap();
    let mut issued = Vec::new();
    let mut now = start;
    for _ in 0..4 {
        issued.push(tokens.issue(ip));
        now += TOKEN_ROTATION;
        assert_eq!(tokens.poll_timeout(), now);
        tokens.handle_timeout(now, &mut rng);
    }
    // Four rotations: the tokens of the last secret (now the previous one) pass, older fail.
    let valid: Vec<bool> = issued.iter().map(|t| tokens.is_valid(now, ip, t)).collect();
    assert_eq!(valid, [false, false, false, true]);
    assert!(tokens.is_valid(now, ip, &tokens.issue(ip)));
    // Rotation is not due before its time.
    let before = tokens.issue(ip);
    tokens.handle_timeout(now + TOKEN_ROTATION - Duration::from_secs(1), &mut rng);
    assert_eq!(tokens.issue(ip), before);
}

#[test]
fn a_token_lives_five_to_ten_minutes() {
    let start = Instant::now();
    let mut rng = SplitMix64::new(2);
    let mut tokens = Tokens::new(start, &mut rng);
    let ip: IpAddr = "2001:db8::77".parse().unwrap();
    // Issued just before a rotation: five minutes.
    let late = tokens.issue(ip);
    tokens.handle_timeout(start + TOKEN_ROTATION, &mut rng);
    let rotation = start + TOKEN_ROTATION;
    assert!(tokens.is_valid(
        rotation + TOKEN_ROTATION - Duration::from_secs(1),
        ip,
        &late
    ));
    tokens.handle_timeout(rotation + TOKEN_ROTATION, &mut rng);
    assert!(
        !tokens.is_valid(rotation + TOKEN_ROTATION, ip, &late),
        "expired"
    );
    // An owner who never rotates still sees tokens expire after ten minutes.
    let idle = Tokens::new(start, &mut rng);
    let token = idle.issue(ip);
    assert!(idle.is_valid(
        start + 2 * TOKEN_ROTATION - Duration::from_secs(1),
        ip,
        &token
    ));
    assert!(!idle.is_valid(start + 2 * TOKEN_ROTATION, ip, &token));
}

#[test]
fn tokens_are_bound_to_the_ip_and_forgeries_fail() {
    let now = Instant::now();
    let mut rng = SplitMix64::new(3);
    let tokens = Tokens::new(now, &mut rng);
    let ip: IpAddr = "198.51.100.200".parse().unwrap();
    let token = tokens.issue(ip);
    assert_eq!(token.len(), TOKEN_LEN);
    assert!(tokens.is_valid(now, ip, &token));
    assert!(!tokens.is_valid(now, "198.51.100.201".parse().unwrap(), &token));
    assert!(!tokens.is_valid(now, "::1".parse().unwrap(), &token));
    // Another node's secret, every one-bit change, random guesses, wrong lengths.
    let other = Tokens::new(now, &mut SplitMix64::new(4));
    assert!(!tokens.is_valid(now, ip, &other.issue(ip)));
    for bit in 0..TOKEN_LEN * 8 {
        let mut flipped = token;
        flipped[bit / 8] ^= 1 << (bit % 8);
        assert!(!tokens.is_valid(now, ip, &flipped), "bit {bit}");
    }
    let mut guesses = SplitMix64::new(5);
    for _ in 0..10_000 {
        assert!(!tokens.is_valid(now, ip, &guesses.next_u64().to_le_bytes()));
    }
    for len in [0, 1, 7, 9, 20] {
        assert!(!tokens.is_valid(now, ip, &vec![0; len]));
    }
    // Tokens differ per address.
    assert_ne!(
        tokens.issue("10.0.0.1".parse().unwrap()),
        tokens.issue("10.0.0.2".parse().unwrap())
    );
}

#[test]
fn the_same_seed_gives_the_same_tokens() {
    let now = Instant::now();
    let ip: IpAddr = "192.0.2.44".parse().unwrap();
    let a = Tokens::new(now, &mut SplitMix64::new(9));
    let b = Tokens::new(now, &mut SplitMix64::new(9));
    assert_eq!(a.issue(ip), b.issue(ip));
}
