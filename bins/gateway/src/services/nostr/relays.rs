//! One connection per configured relay (NIP-01 over a WebSocket): it delivers the relay's
//! outbox, keeps the followed keys' subscription open, and records what the relay answers.
//!
//! This is a small client of our own over tokio-tungstenite rather than nostr-sdk's
//! `Client`/`RelayPool` (0.44), because the pool decides for us in the two places the gateway
//! must account for: it verifies incoming events itself and drops a forged one with only an
//! error log line (so "forged events are counted" cannot be met), stores every received event
//! in its own database, and reconnects on its own schedule, which we could neither show
//! (`retry_in_seconds`) nor bound (1 s doubling to 5 min). What remains is small: a REQ on
//! connect, EVENT/OK bookkeeping, and the back-off. The `nostr` crate still does every event
//! and message (JSON, ids, BIP-340 signatures).
//!
//! Delivery: at most [`WINDOW`] events in flight; `OK true` (or `OK false` with `duplicate:`,
//! the relay has it) acknowledges one; `OK false` with a transient prefix (`rate-limited:`,
//! `error:`) puts it back and pauses this relay for the back-off; any other refusal
//! (`invalid:`, `blocked:`, `pow:`, `restricted:`, ...) is counted and the event dropped, since
//! sending it again would get the same answer. No `OK` within [`OK_TIMEOUT`], or a lost
//! connection, puts what was in flight back in front of the outbox. The back-off starts at
//! 1 s, doubles to [`MAX_BACKOFF`], and starts again after an acknowledged event or a
//! connection that stayed up a minute.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use nostr::message::MachineReadablePrefix;
use nostr::util::JsonUtil;
use nostr::{ClientMessage, Event, EventId, RelayMessage};
use swarmgate_service::Shutdown;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::follow::Follower;
use super::publisher::{OUTBOX_EVENTS, Outbox};
use super::status::{LinkStatus, RelayState};

/// Events sent and not yet answered, at most.
pub(crate) const WINDOW: usize = 16;
/// How long a relay may take to answer an EVENT with OK.
pub(crate) const OK_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest pause between attempts.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// The first pause.
pub(crate) const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// How long connecting (TCP, TLS, WebSocket handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// A ping this often keeps the connection (and NATs on the way) alive.
const PING_EVERY: Duration = Duration::from_secs(30);
/// Silence (not even a pong) this long means the connection is dead.
const SILENCE_LIMIT: Duration = Duration::from_secs(90);
/// A connection that lasted this long resets the back-off.
const STABLE: Duration = Duration::from_secs(60);
/// The largest message a relay may send (an announcement is a few KiB): a hostile relay cannot
/// make us hold more.
const MAX_MESSAGE: usize = 1 << 20;
/// How long the goodbye (a Close frame) may take at shutdown.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// What one relay connection counted.
#[derive(Debug, Default)]
pub(crate) struct RelayCounters {
    /// EVENT messages sent (resends included).
    pub sent: AtomicU64,
    /// Events acknowledged (`OK true`, or `duplicate:`).
    pub acknowledged: AtomicU64,
    /// `OK false` answers.
    pub rejected: AtomicU64,
    /// Events sent again after a transient refusal, a timeout or a lost connection.
    pub retried: AtomicU64,
    /// NOTICE messages.
    pub notices: AtomicU64,
    /// CLOSED messages.
    pub closed: AtomicU64,
    /// Connections made.
    pub connects: AtomicU64,
    /// Connection attempts that failed, and connections lost.
    pub failures: AtomicU64,
    /// Events received on the followed keys' subscription.
    pub received: AtomicU64,
}

/// One configured relay: its outbox, state and figures.
#[derive(Debug)]
pub(crate) struct RelayLink {
    /// Its URL, also its metrics label.
    pub url: String,
    /// Events waiting to be sent to it.
    pub outbox: Outbox,
    /// What it answered.
    pub counters: RelayCounters,
    /// Its state and last messages.
    pub status: LinkStatus,
}

/// Why a session ended.
enum Ended {
    /// The gateway stops.
    Shutdown,
    /// The connection was lost or given up (the reason, for the status).
    Lost(String),
}

impl RelayLink {
    /// A relay not yet connected.
    pub(crate) fn new(url: String) -> RelayLink {
        RelayLink {
            url,
            outbox: Outbox::new(OUTBOX_EVENTS),
            counters: RelayCounters::default(),
            status: LinkStatus::default(),
        }
    }

    fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Connects, serves, reconnects after the back-off, until the shutdown.
    pub(crate) async fn run(
        self: Arc<Self>,
        follower: Option<Arc<Follower>>,
        mut shutdown: Shutdown,
    ) -> Result<(), std::convert::Infallible> {
        let mut backoff = FIRST_BACKOFF;
        loop {
            self.status.set(RelayState::Connecting, None);
            let limits = WebSocketConfig::default()
                .max_message_size(Some(MAX_MESSAGE))
                .max_frame_size(Some(MAX_MESSAGE));
            let connect =
                tokio_tungstenite::connect_async_with_config(self.url.as_str(), Some(limits), true);
            let attempt = tokio::select! {
                () = shutdown.wait() => return Ok(()),
                attempt = tokio::time::timeout(CONNECT_TIMEOUT, connect) => attempt,
            };
            let reason = match attempt {
                Ok(Ok((socket, _))) => {
                    Self::count(&self.counters.connects);
                    self.status.set(RelayState::Connected, None);
                    let started = Instant::now();
                    match self
                        .session(socket, follower.as_deref(), &mut backoff, &mut shutdown)
                        .await
                    {
                        Ended::Shutdown => return Ok(()),
                        Ended::Lost(reason) => {
                            if started.elapsed() >= STABLE {
                                backoff = FIRST_BACKOFF;
                            }
                            reason
                        }
                    }
                }
                Ok(Err(error)) => error.to_string(),
                Err(_) => format!("no connection within {}s", CONNECT_TIMEOUT.as_secs()),
            };
            Self::count(&self.counters.failures);
            self.status.set(
                RelayState::BackingOff {
                    until: Instant::now() + backoff,
                },
                Some(reason),
            );
            tokio::select! {
                () = shutdown.wait() => return Ok(()),
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Serves one connection until it is lost or the shutdown.
    async fn session<S>(
        &self,
        socket: tokio_tungstenite::WebSocketStream<S>,
        follower: Option<&Follower>,
        backoff: &mut Duration,
        shutdown: &mut Shutdown,
    ) -> Ended
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let (mut sink, mut stream) = socket.split();
        let mut in_flight: HashMap<EventId, (Event, Instant)> = HashMap::new();
        let mut paused_until: Option<Instant> = None;
        let mut resubscribe_at: Option<Instant> = follower.map(|_| Instant::now());
        let mut heard = Instant::now();
        let mut pinged = Instant::now();
        let ended = 'session: loop {
            let now = Instant::now();
            if paused_until.is_some_and(|until| until <= now) {
                paused_until = None;
                self.status.set(RelayState::Connected, None);
            }
            if let (Some(at), Some(follower)) = (resubscribe_at, follower) {
                if at <= now {
                    resubscribe_at = None;
                    let req =
                        ClientMessage::req(follower.subscription_id(), vec![follower.filter()]);
                    if let Err(error) = sink.send(Message::text(req.as_json())).await {
                        break Ended::Lost(error.to_string());
                    }
                }
            }
            while paused_until.is_none() && in_flight.len() < WINDOW {
                let Some(event) = self.outbox.pop() else {
                    break;
                };
                let text = ClientMessage::event(event.clone()).as_json();
                in_flight.insert(event.id, (event, now));
                Self::count(&self.counters.sent);
                if let Err(error) = sink.send(Message::text(text)).await {
                    break 'session Ended::Lost(error.to_string());
                }
            }
            if let Some((_, sent)) = in_flight.values().min_by_key(|(_, sent)| *sent) {
                if now.duration_since(*sent) >= OK_TIMEOUT {
                    break Ended::Lost(format!("no OK within {}s", OK_TIMEOUT.as_secs()));
                }
            }
            if now.duration_since(heard) > SILENCE_LIMIT {
                break Ended::Lost(format!("silent for {}s", SILENCE_LIMIT.as_secs()));
            }
            if now.duration_since(pinged) >= PING_EVERY {
                pinged = now;
                if let Err(error) = sink.send(Message::Ping(Vec::new().into())).await {
                    break Ended::Lost(error.to_string());
                }
            }
            let answer_due = in_flight.values().map(|(_, sent)| *sent + OK_TIMEOUT).min();
            let wake = [
                paused_until,
                resubscribe_at,
                answer_due,
                Some(pinged + PING_EVERY),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(now + PING_EVERY);
            let can_send = paused_until.is_none() && in_flight.len() < WINDOW;
            tokio::select! {
                () = shutdown.wait() => {
                    let _ = tokio::time::timeout(CLOSE_TIMEOUT, sink.send(Message::Close(None))).await;
                    break Ended::Shutdown;
                }
                () = self.outbox.pushed(), if can_send => {}
                () = tokio::time::sleep_until(wake.into()) => {}
                message = stream.next() => {
                    heard = Instant::now();
                    let text = match message {
                        Some(Ok(Message::Text(text))) => text,
                        Some(Ok(Message::Close(frame))) => {
                            break Ended::Lost(match frame {
                                Some(frame) => format!("closed by the relay: {}", frame.reason),
                                None => "closed by the relay".to_owned(),
                            });
                        }
                        Some(Ok(_)) => continue,
                        Some(Err(error)) => break Ended::Lost(error.to_string()),
                        None => break Ended::Lost("the connection ended".to_owned()),
                    };
                    match RelayMessage::from_json(text.as_str()) {
                        Ok(message) => self.handle(
                            message,
                            follower,
                            &mut in_flight,
                            &mut paused_until,
                            &mut resubscribe_at,
                            backoff,
                        ),
                        Err(_) => {
                            if let Some(follower) = follower {
                                follower.unreadable();
                            }
                        }
                    }
                }
            }
        };
        if !in_flight.is_empty() {
            self.counters
                .retried
                .fetch_add(in_flight.len() as u64, Ordering::Relaxed);
            let mut returned: Vec<(Event, Instant)> = in_flight.into_values().collect();
            returned.sort_by_key(|(event, sent)| (*sent, event.created_at));
            self.outbox
                .put_back(returned.into_iter().map(|(event, _)| event));
        }
        ended
    }

    /// One message from the relay.
    fn handle(
        &self,
        message: RelayMessage<'_>,
        follower: Option<&Follower>,
        in_flight: &mut HashMap<EventId, (Event, Instant)>,
        paused_until: &mut Option<Instant>,
        resubscribe_at: &mut Option<Instant>,
        backoff: &mut Duration,
    ) {
        match message {
            RelayMessage::Ok {
                event_id,
                status,
                message,
            } => {
                let Some((event, _)) = in_flight.remove(&event_id) else {
                    return;
                };
                let prefix = MachineReadablePrefix::parse(&message);
                if status || prefix == Some(MachineReadablePrefix::Duplicate) {
                    Self::count(&self.counters.acknowledged);
                    *backoff = FIRST_BACKOFF;
                    return;
                }
                Self::count(&self.counters.rejected);
                self.status.rejected(&message);
                if matches!(
                    prefix,
                    Some(MachineReadablePrefix::RateLimited | MachineReadablePrefix::Error)
                ) {
                    Self::count(&self.counters.retried);
                    self.outbox.put_back(std::iter::once(event));
                    let until = Instant::now() + *backoff;
                    *paused_until = Some(until);
                    *backoff = (*backoff * 2).min(MAX_BACKOFF);
                    self.status
                        .set(RelayState::Paused { until }, Some(message.into_owned()));
                }
            }
            RelayMessage::Notice(notice) => {
                Self::count(&self.counters.notices);
                self.status.notice(&notice);
            }
            RelayMessage::Closed {
                subscription_id,
                message,
            } => {
                Self::count(&self.counters.closed);
                self.status.closed(&message);
                let ours = follower.is_some_and(|f| *subscription_id == f.subscription_id());
                let transient = matches!(
                    MachineReadablePrefix::parse(&message),
                    Some(MachineReadablePrefix::RateLimited | MachineReadablePrefix::Error)
                );
                if ours && transient {
                    *resubscribe_at = Some(Instant::now() + *backoff);
                    *backoff = (*backoff * 2).min(MAX_BACKOFF);
                }
            }
            RelayMessage::Event {
                subscription_id,
                event,
            } => {
                if let Some(follower) = follower {
                    if *subscription_id == follower.subscription_id() {
                        Self::count(&self.counters.received);
                        follower.receive(event.into_owned(), &self.url);
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
#[path = "relays_tests.rs"]
mod tests;
