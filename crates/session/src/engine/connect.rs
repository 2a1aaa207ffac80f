//! Which addresses to connect to next: every source's candidates, ranked, retried with backoff.
//!
//! Candidates come from trackers, the DHT, the command line and incoming peers. The best-ranked
//! waiting candidates are dialled while there is room under `max_peers` and `max_connecting`; a
//! failed attempt is retried after 15 s, 30 s, 60 s... and given up after `max_connect_failures`.
//! A peer that disconnects goes back to waiting, behind a retry delay, so a restarted seeder is
//! found again without hammering one that drops us.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use swarmgate_peer::{PeerSession, Role};
use swarmgate_rank::{PeerFacts, Source, connect_order};

use super::peer::Peer;
use super::{Engine, EngineCommand};
use crate::picker::PeerKey;

const RETRY_BASE: Duration = Duration::from_secs(15);

#[derive(Debug, Clone)]
struct Candidate {
    source: Source,
    failures: u32,
    connected: bool,
    retry_at: Option<Instant>,
}

#[derive(Debug, Default)]
pub(super) struct Candidates {
    all: HashMap<SocketAddr, Candidate>,
}

impl Candidates {
    pub(super) fn add(&mut self, addr: SocketAddr, source: Source) {
        self.all.entry(addr).or_insert(Candidate {
            source,
            failures: 0,
            connected: false,
            retry_at: None,
        });
    }

    pub(super) fn connected(&mut self, addr: SocketAddr) {
        if let Some(c) = self.all.get_mut(&addr) {
            c.connected = true;
            c.failures = 0;
        }
    }

    pub(super) fn disconnected(&mut self, addr: SocketAddr, now: Instant) {
        if let Some(c) = self.all.get_mut(&addr) {
            c.connected = false;
            c.retry_at = Some(now + RETRY_BASE * 4);
        }
    }

    pub(super) fn failed(&mut self, addr: SocketAddr, now: Instant, max_failures: u32) {
        let Some(c) = self.all.get_mut(&addr) else {
            return;
        };
        c.connected = false;
        c.failures += 1;
        if c.failures >= max_failures {
            self.all.remove(&addr);
        } else {
            c.retry_at = Some(now + RETRY_BASE * 2u32.pow(c.failures - 1));
        }
    }

    pub(super) fn remove(&mut self, addr: SocketAddr) {
        self.all.remove(&addr);
    }

    pub(super) fn next_retry(&self) -> Option<Instant> {
        self.all
            .values()
            .filter(|c| !c.connected)
            .filter_map(|c| c.retry_at)
            .min()
    }

    fn ready(&self, now: Instant) -> Vec<(SocketAddr, Source, u32)> {
        self.all
            .iter()
            .filter(|(_, c)| !c.connected && c.retry_at.is_none_or(|t| t <= now))
            .map(|(&addr, c)| (addr, c.source, c.failures))
            .collect()
    }
}

impl Engine {
    /// The driver opened a connection to `addr` on its own (not for an [`EngineCommand::Connect`]):
    /// the peer joins as the initiator side (our handshake is the first thing sent) without
    /// becoming a candidate, so it is never redialled by the engine. Returns its key, or `None`
    /// when `max_peers` are connected, the address is banned or already connected.
    ///
    /// For a driver that decides whom to dial itself (a seeder dialling the leechers a tracker
    /// reports, each once).
    pub fn handle_dialled(
        &mut self,
        now: Instant,
        addr: SocketAddr,
        source: Source,
    ) -> Option<PeerKey> {
        if self.peers.len() >= self.config.max_peers
            || self.banned.contains(&addr)
            || self.is_connected_to(addr)
        {
            return None;
        }
        let key = self.new_key();
        let session = PeerSession::new(self.session_config(), Role::Initiator, now);
        self.addresses.insert(key, addr);
        self.peers
            .insert(key, Peer::new(addr, source, session, now));
        self.dirty.push(key);
        Some(key)
    }

    /// Dials the best waiting candidates while there is room.
    pub(super) fn connect_more(&mut self, now: Instant) {
        let room = self
            .config
            .max_peers
            .saturating_sub(self.peers.len() + self.connecting.len())
            .min(
                self.config
                    .max_connecting
                    .saturating_sub(self.connecting.len()),
            );
        if room == 0 {
            return;
        }
        let ready: Vec<_> = self
            .candidates
            .ready(now)
            .into_iter()
            .filter(|&(addr, _, _)| !self.banned.contains(&addr) && !self.is_connected_to(addr))
            .collect();
        if ready.is_empty() {
            return;
        }
        let facts: Vec<PeerFacts> = ready
            .iter()
            .map(|&(addr, source, failures)| PeerFacts {
                addr,
                source,
                blocks_received: 0,
                hash_failures: 0,
                snubs: failures,
                outstanding: 0,
                max_outstanding: 1,
                since_seen: None,
            })
            .collect();
        for index in connect_order(&facts, &self.config.local_addrs, &self.config.weights)
            .into_iter()
            .take(room)
        {
            let (addr, source, _) = ready[index];
            let key = self.new_key();
            self.candidates.connected(addr);
            self.connecting.insert(key, (addr, source));
            self.addresses.insert(key, addr);
            self.commands
                .push_back(EngineCommand::Connect { key, addr });
        }
    }
}
