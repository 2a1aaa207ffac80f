//! The BEP 15 client machine for one tracker address: connect, request, retransmit, give up.
//!
//! Commands queue and run one at a time, so events come out in command order. Each command gets
//! one retransmission counter n for its whole life (connects included): after a send, the
//! machine waits `base * 2^n`, then sends again with n + 1, and fails with
//! [`TrackerError::Timeout`] when the wait after n = `max_retransmits` runs out (15 s .. 3840 s,
//! nine sends, by default). One counter, rather than one per packet, bounds a command even when
//! the connection id expires between retransmissions and has to be fetched again.
//!
//! A connection id is reused for `connection_ttl` (60 s, the BEP's client rule; trackers accept
//! two minutes) and re-fetched after. A retransmission reuses the packet's transaction id, so a
//! late answer to the first send still counts; a new packet gets a new one from the seeded
//! generator. A datagram with another transaction id, or an action other than the one this stage
//! expects (or error), is ignored; one that passes both checks but does not decode fails the
//! command.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use swarmgate_core::InfoHashV1;

use super::packet::{
    ANNOUNCE, AddressFamily, CONNECT, ERROR, MAX_SCRAPE_HASHES, SCRAPE, UdpRequest, UdpResponse,
};
use crate::announce::{AnnounceRequest, AnnounceResponse, ScrapeStats};
use crate::error::{ParseError, TrackerError};
use swarmgate_core::SplitMix64;

/// Settings of a [`UdpTrackerClient`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpClientConfig {
    /// The tracker address's family: decides 6- or 18-byte peers.
    pub family: AddressFamily,
    /// The first wait for an answer (BEP 15: 15 s); each retransmission doubles it.
    pub retransmit_base: Duration,
    /// The last n of `base * 2^n` (BEP 15: 8); the command fails when that wait ends.
    pub max_retransmits: u32,
    /// How long a connection id is reused (60 s).
    pub connection_ttl: Duration,
}

impl Default for UdpClientConfig {
    fn default() -> Self {
        UdpClientConfig {
            family: AddressFamily::V4,
            retransmit_base: Duration::from_secs(15),
            max_retransmits: 8,
            connection_ttl: Duration::from_secs(60),
        }
    }
}

/// What a command ended in.
#[derive(Debug)]
pub enum UdpEvent {
    /// An announce was answered.
    Announced(AnnounceResponse),
    /// A scrape was answered: one entry per requested hash, in order.
    Scraped(Vec<ScrapeStats>),
    /// A command failed: an error packet ([`TrackerError::Failure`]), no answer
    /// ([`TrackerError::Timeout`]) or an answer that does not decode.
    Failed(TrackerError),
}

enum Command {
    Announce(AnnounceRequest),
    Scrape {
        pending: VecDeque<InfoHashV1>,
        /// Hashes in the packet now in flight.
        batch: Vec<InfoHashV1>,
        done: Vec<ScrapeStats>,
    },
}

struct InFlight {
    command: Command,
    /// True while waiting for a connect response.
    connecting: bool,
    transaction_id: u32,
    packet: Vec<u8>,
    attempt: u32,
    deadline: Instant,
}

/// The sans-IO BEP 15 client for one tracker address.
///
/// ```
/// use std::time::{Duration, Instant};
/// use swarmgate_core::{InfoHashV1, PeerId};
/// use swarmgate_tracker::{AnnounceRequest, UdpTrackerClient};
///
/// let now = Instant::now();
/// let mut client = UdpTrackerClient::new(7);
/// client.announce(now, AnnounceRequest::new(InfoHashV1([1; 20]), PeerId([2; 20]), 6881));
/// let connect = client.poll_transmit().expect("a connect request");
/// assert_eq!(connect.len(), 16);
/// assert_eq!(client.poll_timeout(), Some(now + Duration::from_secs(15)));
/// ```
pub struct UdpTrackerClient {
    config: UdpClientConfig,
    rng: SplitMix64,
    /// The connection id and when it was received.
    connection: Option<(u64, Instant)>,
    queue: VecDeque<Command>,
    current: Option<InFlight>,
    transmits: VecDeque<Vec<u8>>,
    events: VecDeque<UdpEvent>,
}

impl UdpTrackerClient {
    /// A client with the BEP 15 defaults (IPv4 tracker), transaction ids drawn from `seed`.
    pub fn new(seed: u64) -> Self {
        Self::with_config(seed, UdpClientConfig::default())
    }

    /// A client with `config`.
    pub fn with_config(seed: u64, config: UdpClientConfig) -> Self {
        UdpTrackerClient {
            config,
            rng: SplitMix64::new(seed),
            connection: None,
            queue: VecDeque::new(),
            current: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Queues an announce.
    pub fn announce(&mut self, now: Instant, request: AnnounceRequest) {
        self.queue.push_back(Command::Announce(request));
        self.start_next(now);
    }

    /// Queues a scrape; more than [`MAX_SCRAPE_HASHES`] hashes go out in several packets and
    /// come back as one event.
    pub fn scrape(&mut self, now: Instant, info_hashes: Vec<InfoHashV1>) {
        self.queue.push_back(Command::Scrape {
            pending: info_hashes.into(),
            batch: Vec::new(),
            done: Vec::new(),
        });
        self.start_next(now);
    }

    /// Drops every queued and in-flight command without an event (the driver gave up on them);
    /// the connection id is kept.
    pub fn cancel_all(&mut self) {
        self.queue.clear();
        self.current = None;
        self.transmits.clear();
    }

    /// The next datagram to send to the tracker.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmits.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.current.as_ref().map(|c| c.deadline)
    }

    /// The next finished command.
    pub fn poll_event(&mut self) -> Option<UdpEvent> {
        self.events.pop_front()
    }

    /// Retransmits or gives up when the wait for an answer has run out.
    pub fn handle_timeout(&mut self, now: Instant) {
        let connection_valid = self.connection_valid(now);
        let Some(current) = self.current.as_mut() else {
            return;
        };
        if now < current.deadline {
            return;
        }
        if current.attempt >= self.config.max_retransmits {
            return self.finish(now, UdpEvent::Failed(TrackerError::Timeout));
        }
        current.attempt += 1;
        if !current.connecting && !connection_valid {
            // The connection id went stale while we waited: fetch a new one first.
            self.connection = None;
            self.send_next_packet(now);
        } else {
            current.deadline = now + backoff(&self.config, current.attempt);
            self.transmits.push_back(current.packet.clone());
        }
    }

    /// Feeds a datagram received from the tracker.
    pub fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) {
        let Some(current) = self.current.as_ref() else {
            return;
        };
        let Some((action, transaction_id)) = UdpResponse::peek(datagram) else {
            return;
        };
        let expected = match (current.connecting, &current.command) {
            (true, _) => CONNECT,
            (false, Command::Announce(_)) => ANNOUNCE,
            (false, Command::Scrape { .. }) => SCRAPE,
        };
        if transaction_id != current.transaction_id || (action != expected && action != ERROR) {
            // Not the answer to the packet in flight.
            return;
        }
        let response = match UdpResponse::decode(datagram, self.config.family) {
            Ok(response) => response,
            Err(e) => return self.finish(now, UdpEvent::Failed(e.into())),
        };
        match response {
            UdpResponse::Error { message, .. } => {
                self.finish(now, UdpEvent::Failed(TrackerError::Failure(message)));
            }
            UdpResponse::Connect { connection_id, .. } => {
                self.connection = Some((connection_id, now));
                self.send_next_packet(now);
            }
            UdpResponse::Announce { response, .. } => {
                self.finish(now, UdpEvent::Announced(response));
            }
            UdpResponse::Scrape { stats, .. } => self.scraped(now, stats),
        }
    }

    fn scraped(&mut self, now: Instant, stats: Vec<ScrapeStats>) {
        let Some(InFlight {
            command:
                Command::Scrape {
                    pending,
                    batch,
                    done,
                },
            attempt,
            ..
        }) = self.current.as_mut()
        else {
            return;
        };
        if stats.len() != batch.len() {
            let e = ParseError::Length {
                what: "UDP scrape response entries",
                expected: batch.len() * 12,
                actual: stats.len() * 12,
            };
            return self.finish(now, UdpEvent::Failed(e.into()));
        }
        done.extend(stats);
        batch.clear();
        if pending.is_empty() {
            let done = std::mem::take(done);
            self.finish(now, UdpEvent::Scraped(done));
        } else {
            // Progress: the next batch starts a fresh retransmission schedule.
            *attempt = 0;
            self.send_next_packet(now);
        }
    }

    fn connection_valid(&self, now: Instant) -> bool {
        self.connection
            .is_some_and(|(_, at)| now.saturating_duration_since(at) < self.config.connection_ttl)
    }

    fn finish(&mut self, now: Instant, event: UdpEvent) {
        self.current = None;
        self.events.push_back(event);
        self.start_next(now);
    }

    fn start_next(&mut self, now: Instant) {
        if self.current.is_some() {
            return;
        }
        let Some(command) = self.queue.pop_front() else {
            return;
        };
        if let Command::Scrape { pending, .. } = &command {
            if pending.is_empty() {
                return self.finish(now, UdpEvent::Scraped(Vec::new()));
            }
        }
        self.current = Some(InFlight {
            command,
            connecting: false,
            transaction_id: 0,
            packet: Vec::new(),
            attempt: 0,
            deadline: now,
        });
        self.send_next_packet(now);
    }

    /// Sends what the current command needs next: a connect when there is no valid connection
    /// id, else its request (the next scrape batch), with a fresh transaction id.
    fn send_next_packet(&mut self, now: Instant) {
        let transaction_id = self.rng.next_u32();
        let connection = self.connection.filter(|_| self.connection_valid(now));
        let Some(current) = self.current.as_mut() else {
            return;
        };
        let request = match (connection, &mut current.command) {
            (None, _) => UdpRequest::Connect { transaction_id },
            (Some((connection_id, _)), Command::Announce(request)) => UdpRequest::Announce {
                connection_id,
                transaction_id,
                request: request.clone(),
            },
            (Some((connection_id, _)), Command::Scrape { pending, batch, .. }) => {
                // A non-empty batch is being re-sent after a reconnect.
                if batch.is_empty() {
                    let n = pending.len().min(MAX_SCRAPE_HASHES);
                    *batch = pending.drain(..n).collect();
                }
                UdpRequest::Scrape {
                    connection_id,
                    transaction_id,
                    info_hashes: batch.clone(),
                }
            }
        };
        current.connecting = connection.is_none();
        current.transaction_id = transaction_id;
        current.packet.clear();
        request.encode(&mut current.packet);
        current.deadline = now + backoff(&self.config, current.attempt);
        self.transmits.push_back(current.packet.clone());
    }
}

fn backoff(config: &UdpClientConfig, attempt: u32) -> Duration {
    config
        .retransmit_base
        .saturating_mul(1u32.checked_shl(attempt).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_saturates() {
        let config = UdpClientConfig::default();
        let waits: Vec<u64> = (0..=8).map(|n| backoff(&config, n).as_secs()).collect();
        assert_eq!(waits, [15, 30, 60, 120, 240, 480, 960, 1920, 3840]);
        // A configuration with a huge n never overflows.
        assert_eq!(
            backoff(&config, 40),
            Duration::from_secs(15).saturating_mul(u32::MAX)
        );
        let huge = UdpClientConfig {
            retransmit_base: Duration::MAX,
            ..config
        };
        assert_eq!(backoff(&huge, 3), Duration::MAX);
    }
}
