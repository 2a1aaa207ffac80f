//! nostr-relay-builder's relay in the test process, on 127.0.0.1 (a port of its choosing or a
//! given one), with what the Nostr tests ask of it: a REQ until EOSE and an EVENT until its OK,
//! both over a raw WebSocket (so what the gateway sent is read by other code than its own), and
//! events pushed to subscribers without the relay's checks, as a hostile relay would.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use nostr::util::JsonUtil;
use nostr::{ClientMessage, Event, Filter, RelayMessage, SubscriptionId};
use nostr_relay_builder::prelude::{LocalRelay, RelayBuilder};
use tokio_tungstenite::tungstenite::Message;

/// Every wait in these tests ends by this.
pub(crate) const PATIENCE: Duration = Duration::from_secs(20);

/// An in-process relay on 127.0.0.1 and the runtime that drives it between calls.
pub(crate) struct Relay {
    runtime: tokio::runtime::Runtime,
    relay: Option<LocalRelay>,
    pub(crate) url: String,
}

impl Relay {
    /// A relay on a port of its choosing.
    pub(crate) fn start() -> Relay {
        Relay::start_with(RelayBuilder::default())
    }

    /// A relay built by `builder`.
    pub(crate) fn start_with(builder: RelayBuilder) -> Relay {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        let (relay, url) = runtime.block_on(async {
            let relay = LocalRelay::new(builder.addr([127, 0, 0, 1].into()));
            relay.run().await.expect("the relay runs");
            let url = relay.url().await.as_str_without_trailing_slash().to_owned();
            (relay, url)
        });
        Relay {
            runtime,
            relay: Some(relay),
            url,
        }
    }

    /// The stored events `filter` selects (REQ until EOSE, over a raw WebSocket).
    pub(crate) fn query(&self, filter: Filter) -> Vec<Event> {
        self.runtime.block_on(async {
            let (mut socket, _) = tokio_tungstenite::connect_async(self.url.as_str())
                .await
                .expect("connect to the relay");
            let req = ClientMessage::req(SubscriptionId::new("query"), vec![filter]);
            socket
                .send(Message::text(req.as_json()))
                .await
                .expect("REQ");
            let mut events = Vec::new();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            loop {
                let message = tokio::time::timeout_at(deadline, socket.next())
                    .await
                    .expect("EOSE within 5 s")
                    .expect("the relay answers")
                    .expect("a message");
                let Message::Text(text) = message else {
                    continue;
                };
                match RelayMessage::from_json(text.as_str()).expect("NIP-01") {
                    RelayMessage::Event { event, .. } => events.push(event.into_owned()),
                    RelayMessage::EndOfStoredEvents(_) => break events,
                    _ => {}
                }
            }
        })
    }

    /// A live subscription to `filter`, open (its EOSE received) when this returns: each new
    /// event arrives on the receiver with the moment it was read.
    pub(crate) fn watch(&self, filter: Filter) -> std::sync::mpsc::Receiver<(Instant, Event)> {
        let (tx, rx) = std::sync::mpsc::channel();
        let mut socket = self.runtime.block_on(async {
            let (mut socket, _) = tokio_tungstenite::connect_async(self.url.as_str())
                .await
                .expect("connect to the relay");
            let req = ClientMessage::req(SubscriptionId::new("watch"), vec![filter]);
            socket
                .send(Message::text(req.as_json()))
                .await
                .expect("REQ");
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            loop {
                let message = tokio::time::timeout_at(deadline, socket.next())
                    .await
                    .expect("EOSE within 5 s")
                    .expect("the relay answers")
                    .expect("a message");
                if let Message::Text(text) = message {
                    if let Ok(RelayMessage::EndOfStoredEvents(_)) =
                        RelayMessage::from_json(text.as_str())
                    {
                        break socket;
                    }
                }
            }
        });
        self.runtime.spawn(async move {
            while let Some(Ok(message)) = socket.next().await {
                let now = Instant::now();
                let Message::Text(text) = message else {
                    continue;
                };
                if let Ok(RelayMessage::Event { event, .. }) =
                    RelayMessage::from_json(text.as_str())
                {
                    if tx.send((now, event.into_owned())).is_err() {
                        return;
                    }
                }
            }
        });
        rx
    }

    /// Waits until `filter` selects at least `count` events; returns them.
    pub(crate) fn wait_for(&self, filter: &Filter, count: usize, what: &str) -> Vec<Event> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let events = self.query(filter.clone());
            if events.len() >= count {
                return events;
            }
            assert!(Instant::now() < deadline, "{what}: {} events", events.len());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Publishes `event`; returns the relay's OK.
    pub(crate) fn publish(&self, event: &Event) -> (bool, String) {
        self.runtime.block_on(async {
            let (mut socket, _) = tokio_tungstenite::connect_async(self.url.as_str())
                .await
                .expect("connect to the relay");
            let message = ClientMessage::event(event.clone()).as_json();
            socket.send(Message::text(message)).await.expect("EVENT");
            loop {
                let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
                    .await
                    .expect("OK within 5 s")
                    .expect("the relay answers")
                    .expect("a message");
                let Message::Text(text) = message else {
                    continue;
                };
                if let Ok(RelayMessage::Ok {
                    status, message, ..
                }) = RelayMessage::from_json(text.as_str())
                {
                    break (status, message.into_owned());
                }
            }
        })
    }

    /// Sends `event` to the subscribers whose filters select it, without any check (as a
    /// hostile relay would).
    pub(crate) fn push_unchecked(&self, event: Event) {
        let relay = self.relay.as_ref().expect("running");
        assert!(relay.notify_event(event), "a subscriber is connected");
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(relay) = self.relay.take() {
            relay.shutdown();
        }
    }
}
