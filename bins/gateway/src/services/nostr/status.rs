//! What the Nostr service shows: each relay's state and last messages, its part of
//! `/api/p2p/stats` (`nostr`), its `nostr_*` metrics (per relay, with a `relay` label) and its
//! health component.
//!
//! Health: the share of configured relays connected (one that paused sending after a transient
//! refusal counts as connected), weight 10; with no relay configured there is nothing to be healthy
//! about, so the component is absent and the overall score is what it was without Nostr.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use serde::Serialize;

use super::follow::FollowAnswer;
use super::relays::RelayLink;
use crate::services::Health;

/// A relay connection's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum RelayState {
    /// Connecting (TCP, TLS, WebSocket handshake).
    #[default]
    Connecting,
    /// Connected.
    Connected,
    /// Connected, sending paused after a transient refusal (`rate-limited:`, `error:`).
    Paused {
        /// When sending resumes.
        until: Instant,
    },
    /// Not connected, waiting before the next attempt.
    BackingOff {
        /// When the wait ends.
        until: Instant,
    },
}

/// A relay's state and the last thing it said of each kind.
#[derive(Debug, Default)]
pub(crate) struct LinkStatus {
    inner: Mutex<Last>,
}

#[derive(Debug, Default)]
struct Last {
    state: RelayState,
    since: Option<Instant>,
    error: Option<String>,
    rejection: Option<String>,
    notice: Option<String>,
    closed: Option<String>,
}

/// Messages from relays are cut to this many characters.
const MESSAGE_LIMIT: usize = 300;

fn cut(text: &str) -> String {
    text.chars().take(MESSAGE_LIMIT).collect()
}

impl LinkStatus {
    fn last(&self) -> std::sync::MutexGuard<'_, Last> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new state, with the reason for it when it is a failure.
    pub(crate) fn set(&self, state: RelayState, error: Option<String>) {
        let mut last = self.last();
        if last.state != state || last.since.is_none() {
            last.since = Some(Instant::now());
        }
        last.state = state;
        if let Some(error) = error {
            last.error = Some(cut(&error));
        }
    }

    /// An `OK false` reason.
    pub(crate) fn rejected(&self, message: &str) {
        self.last().rejection = Some(cut(message));
    }

    /// A NOTICE.
    pub(crate) fn notice(&self, message: &str) {
        self.last().notice = Some(cut(message));
    }

    /// A CLOSED reason.
    pub(crate) fn closed(&self, message: &str) {
        self.last().closed = Some(cut(message));
    }

    /// The current state.
    pub(crate) fn state(&self) -> RelayState {
        self.last().state
    }
}

/// One relay in `/api/p2p/stats`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RelayAnswer {
    /// The relay's URL.
    pub url: String,
    /// `connecting`, `connected`, `paused` (connected, sending paused after a transient
    /// refusal) or `backing_off` (not connected, waiting to retry).
    pub state: &'static str,
    /// Seconds in this state.
    pub state_seconds: u64,
    /// Seconds until the next attempt, while paused or backing off.
    pub retry_in_seconds: Option<f64>,
    /// Why the last connection failed or the last pause began.
    pub last_error: Option<String>,
    /// Events waiting to be sent.
    pub queued: usize,
    /// Events dropped from a full outbox (oldest first).
    pub dropped: u64,
    /// EVENT messages sent (resends included).
    pub sent: u64,
    /// Events acknowledged (`OK true`, or `duplicate:`).
    pub acknowledged: u64,
    /// `OK false` answers.
    pub rejected: u64,
    /// The last `OK false` reason.
    pub last_rejection: Option<String>,
    /// Events sent again (transient refusal, no OK, lost connection).
    pub retried: u64,
    /// NOTICE messages.
    pub notices: u64,
    /// The last NOTICE.
    pub last_notice: Option<String>,
    /// CLOSED messages.
    pub closed: u64,
    /// The last CLOSED reason.
    pub last_closed: Option<String>,
    /// Connections made.
    pub connects: u64,
    /// Failed attempts and lost connections.
    pub failures: u64,
    /// Events received for the followed keys.
    pub received: u64,
}

impl RelayAnswer {
    /// `link`'s figures now.
    pub(crate) fn of(link: &RelayLink) -> RelayAnswer {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let c = &link.counters;
        let last = link.status.last();
        let now = Instant::now();
        let (state, retry_in_seconds) = match last.state {
            RelayState::Connecting => ("connecting", None),
            RelayState::Connected => ("connected", None),
            RelayState::Paused { until } => (
                "paused",
                Some(until.saturating_duration_since(now).as_secs_f64()),
            ),
            RelayState::BackingOff { until } => (
                "backing_off",
                Some(until.saturating_duration_since(now).as_secs_f64()),
            ),
        };
        RelayAnswer {
            url: link.url.clone(),
            state,
            state_seconds: last
                .since
                .map_or(0, |since| now.duration_since(since).as_secs()),
            retry_in_seconds,
            last_error: last.error.clone(),
            queued: link.outbox.len(),
            dropped: link.outbox.dropped(),
            sent: read(&c.sent),
            acknowledged: read(&c.acknowledged),
            rejected: read(&c.rejected),
            last_rejection: last.rejection.clone(),
            retried: read(&c.retried),
            notices: read(&c.notices),
            last_notice: last.notice.clone(),
            closed: read(&c.closed),
            last_closed: last.closed.clone(),
            connects: read(&c.connects),
            failures: read(&c.failures),
            received: read(&c.received),
        }
    }
}

/// The `nostr` part of `/api/p2p/stats`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct NostrAnswer {
    /// The gateway's public key, hex.
    pub pubkey: String,
    /// The same, as an npub.
    pub npub: String,
    /// Whether files published while running are announced (a relay is configured).
    pub announcing: bool,
    /// Files published and not yet signed.
    pub pending_files: usize,
    /// Files dropped from a full pending queue (oldest first).
    pub dropped_files: u64,
    /// Files whose events were handed to the relays.
    pub announced_files: u64,
    /// Each relay.
    pub relays: Vec<RelayAnswer>,
    /// The followed keys and what they announced.
    pub following: FollowAnswer,
}

/// The health component: the share of relays connected.
pub(crate) fn health(relays: &[Arc<RelayLink>]) -> Option<Health> {
    if relays.is_empty() {
        return None;
    }
    let mut issues = Vec::new();
    let mut up = 0;
    for relay in relays {
        let answer = RelayAnswer::of(relay);
        let connected = matches!(
            relay.status.state(),
            RelayState::Connected | RelayState::Paused { .. }
        );
        if connected {
            up += 1;
        } else {
            let reason = answer.last_error.unwrap_or_else(|| "connecting".to_owned());
            issues.push(format!("relay {} is not connected: {reason}", relay.url));
        }
        if answer.queued > 0 && !connected {
            issues.push(format!("{} events wait for {}", answer.queued, relay.url));
        }
    }
    Some(Health {
        name: "nostr",
        score: (up * 100 / relays.len()) as u8,
        weight: 10,
        issues,
    })
}

/// The per-relay metrics, read at each scrape.
#[derive(Debug)]
pub(crate) struct RelayMetrics {
    pub(crate) relays: Vec<Arc<RelayLink>>,
}

type Reader = fn(&RelayAnswer) -> u64;

/// (name, help, is a counter, reader).
const RELAY_METRICS: &[(&str, &str, bool, Reader)] = &[
    (
        "nostr_relay_connected",
        "1 when the relay is connected.",
        false,
        |a| u64::from(matches!(a.state, "connected" | "paused")),
    ),
    (
        "nostr_relay_queued",
        "Events waiting for the relay.",
        false,
        |a| a.queued as u64,
    ),
    (
        "nostr_events_sent",
        "EVENT messages sent to the relay.",
        true,
        |a| a.sent,
    ),
    (
        "nostr_events_acknowledged",
        "Events the relay acknowledged (OK true).",
        true,
        |a| a.acknowledged,
    ),
    (
        "nostr_events_rejected",
        "OK false answers from the relay.",
        true,
        |a| a.rejected,
    ),
    (
        "nostr_events_retried",
        "Events sent to the relay again.",
        true,
        |a| a.retried,
    ),
    (
        "nostr_events_dropped",
        "Events dropped from the relay's full outbox.",
        true,
        |a| a.dropped,
    ),
    (
        "nostr_notices",
        "NOTICE messages from the relay.",
        true,
        |a| a.notices,
    ),
    (
        "nostr_closed",
        "CLOSED messages from the relay.",
        true,
        |a| a.closed,
    ),
    (
        "nostr_connects",
        "Connections made to the relay.",
        true,
        |a| a.connects,
    ),
    (
        "nostr_connect_failures",
        "Failed or lost connections to the relay.",
        true,
        |a| a.failures,
    ),
    (
        "nostr_events_received",
        "Followed keys' events received from the relay.",
        true,
        |a| a.received,
    ),
];

impl Collector for RelayMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let answers: Vec<RelayAnswer> = self.relays.iter().map(|r| RelayAnswer::of(r)).collect();
        for (name, help, counter, read) in RELAY_METRICS {
            let kind = if *counter {
                prometheus_client::metrics::MetricType::Counter
            } else {
                prometheus_client::metrics::MetricType::Gauge
            };
            let mut family = encoder.encode_descriptor(name, help, None, kind)?;
            for answer in &answers {
                let labels = [("relay", answer.url.as_str())];
                let sample = family.encode_family(&labels)?;
                let value = read(answer);
                if *counter {
                    ConstCounter::new(value).encode(sample)?;
                } else {
                    ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX)).encode(sample)?;
                }
            }
        }
        Ok(())
    }
}
