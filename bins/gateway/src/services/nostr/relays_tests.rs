//! Unit tests of the relay connection against a scripted relay on loopback (a bare WebSocket
//! server that answers as the test says): every kind of OK, a NOTICE, and a connection lost
//! with an event in flight.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use nostr::util::JsonUtil;
use nostr::{ClientMessage, EventBuilder, Keys, RelayMessage};
use swarmgate_service::Shutdown;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

use super::super::status;
use super::*;

/// The EVENTs of one connection, answered by `answer(n)` for the n-th EVENT of the test (over
/// every connection); `None` drops the connection without answering.
async fn serve_connection(
    listener: &TcpListener,
    seen: &mut usize,
    greeting: Option<&str>,
    answer: impl Fn(usize) -> Option<(bool, &'static str)>,
) {
    let (tcp, _) = listener.accept().await.expect("a connection");
    let mut socket = tokio_tungstenite::accept_async(tcp)
        .await
        .expect("a handshake");
    if let Some(text) = greeting {
        let notice = RelayMessage::notice(text).as_json();
        socket.send(Message::text(notice)).await.expect("NOTICE");
    }
    while let Some(Ok(message)) = socket.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let Ok(ClientMessage::Event(event)) = ClientMessage::from_json(text.as_str()) else {
            continue;
        };
        let n = *seen;
        *seen += 1;
        let Some((status, reason)) = answer(n) else {
            return;
        };
        let ok = RelayMessage::ok(event.id, status, reason).as_json();
        socket.send(Message::text(ok)).await.expect("OK");
    }
}

fn notes(count: usize) -> Vec<Event> {
    let keys = Keys::generate();
    (0..count)
        .map(|i| {
            EventBuilder::text_note(format!("note {i}"))
                .sign_with_keys(&keys)
                .unwrap()
        })
        .collect()
}

/// Waits (at most 10 s) until `done` holds for `link`.
async fn until(link: &RelayLink, what: &str, done: impl Fn(&RelayLink) -> bool) {
    let waited = tokio::time::timeout(Duration::from_secs(10), async {
        while !done(link) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        waited.is_ok(),
        "{what}: {:?}",
        status::RelayAnswer::of(link)
    );
}

#[tokio::test]
async fn every_kind_of_ok_and_a_notice_are_counted_and_only_transient_refusals_retried() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let relay = tokio::spawn(async move {
        let mut seen = 0;
        serve_connection(&listener, &mut seen, Some("welcome"), |n| {
            Some(match n {
                0 => (false, "invalid: bad event"),
                1 => (false, "duplicate: already have it"),
                2 => (false, "error: try later"),
                _ => (true, ""),
            })
        })
        .await;
    });
    let link = Arc::new(RelayLink::new(url));
    for event in notes(3) {
        link.outbox.push(event);
    }
    let (trigger, shutdown) = Shutdown::new();
    let running = tokio::spawn(Arc::clone(&link).run(None, shutdown));
    until(&link, "two acknowledged", |l| {
        l.counters.acknowledged.load(Ordering::Relaxed) == 2
    })
    .await;
    let answer = status::RelayAnswer::of(&link);
    assert_eq!(answer.state, "connected");
    assert_eq!((answer.sent, answer.rejected, answer.retried), (4, 2, 1));
    assert_eq!(answer.last_rejection.as_deref(), Some("error: try later"));
    assert_eq!(
        (answer.notices, answer.last_notice.as_deref()),
        (1, Some("welcome"))
    );
    assert_eq!((answer.queued, answer.connects, answer.failures), (0, 1, 0));
    trigger.trigger();
    running.await.unwrap().unwrap();
    relay.abort();
}

#[tokio::test]
async fn an_event_in_flight_on_a_lost_connection_is_sent_again_after_the_back_off() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let relay = tokio::spawn(async move {
        let mut seen = 0;
        let answer = |n| (n > 0).then_some((true, ""));
        serve_connection(&listener, &mut seen, None, answer).await;
        serve_connection(&listener, &mut seen, None, answer).await;
    });
    let link = Arc::new(RelayLink::new(url));
    let (trigger, shutdown) = Shutdown::new();
    let running = tokio::spawn(Arc::clone(&link).run(None, shutdown));
    until(&link, "connected", |l| {
        l.status.state() == RelayState::Connected
    })
    .await;
    link.outbox.push(notes(1).remove(0));
    until(&link, "backing off", |l| {
        matches!(l.status.state(), RelayState::BackingOff { .. })
    })
    .await;
    assert_eq!(link.outbox.len(), 1, "put back");
    until(&link, "acknowledged", |l| {
        l.counters.acknowledged.load(Ordering::Relaxed) == 1
    })
    .await;
    let answer = status::RelayAnswer::of(&link);
    assert_eq!((answer.sent, answer.retried), (2, 1));
    assert_eq!((answer.connects, answer.failures), (2, 1));
    assert!(answer.last_error.is_some());
    trigger.trigger();
    running.await.unwrap().unwrap();
    relay.abort();
}

#[tokio::test]
async fn an_unreachable_relay_backs_off_doubling_and_keeps_its_outbox() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    drop(listener);
    let link = Arc::new(RelayLink::new(url));
    link.outbox.push(notes(1).remove(0));
    let (trigger, shutdown) = Shutdown::new();
    let running = tokio::spawn(Arc::clone(&link).run(None, shutdown));
    until(&link, "two failures", |l| {
        l.counters.failures.load(Ordering::Relaxed) >= 2
    })
    .await;
    let answer = status::RelayAnswer::of(&link);
    assert_eq!(answer.queued, 1);
    assert_eq!(answer.state, "backing_off");
    let retry = answer.retry_in_seconds.unwrap();
    assert!(
        retry > 1.0 && retry <= 2.0,
        "the second wait is 2 s: {retry}"
    );
    trigger.trigger();
    tokio::time::timeout(Duration::from_secs(1), running)
        .await
        .expect("stops at once while backing off")
        .unwrap()
        .unwrap();
}

/// Waits for the next REQ on `socket`; its subscription id.
async fn next_req<S>(socket: &mut tokio_tungstenite::WebSocketStream<S>) -> nostr::SubscriptionId
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    while let Some(Ok(message)) = socket.next().await {
        if let Message::Text(text) = message {
            if let Ok(ClientMessage::Req {
                subscription_id, ..
            }) = ClientMessage::from_json(text.as_str())
            {
                return subscription_id.into_owned();
            }
        }
    }
    panic!("the connection ended without a REQ");
}

#[tokio::test]
async fn the_subscription_is_made_again_after_a_transient_closed_and_after_a_reconnect() {
    let keys = Keys::generate();
    let (catalog, entry) = super::super::events::tests::published("sub.bin", &[1u8; 999]);
    let [torrent, _] = super::super::events::announcements(
        &entry,
        catalog.links(),
        &keys,
        nostr::Timestamp::now(),
    )
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let relay = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut socket = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let id = next_req(&mut socket).await;
        let closed = RelayMessage::closed(id, "error: too busy").as_json();
        socket.send(Message::text(closed)).await.unwrap();
        next_req(&mut socket).await;
        drop(socket);
        let (tcp, _) = listener.accept().await.unwrap();
        let mut socket = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let id = next_req(&mut socket).await;
        let event = RelayMessage::event(id.clone(), torrent).as_json();
        socket.send(Message::text(event)).await.unwrap();
        let eose = RelayMessage::eose(id).as_json();
        socket.send(Message::text(eose)).await.unwrap();
        // Keep the connection open until the test ends.
        while socket.next().await.is_some() {}
    });
    let link = Arc::new(RelayLink::new(url));
    let follower = Arc::new(Follower::new([keys.public_key()], None));
    let (trigger, shutdown) = Shutdown::new();
    let running = tokio::spawn(Arc::clone(&link).run(Some(Arc::clone(&follower)), shutdown));
    until(&link, "the announcement received", |l| {
        l.counters.received.load(Ordering::Relaxed) == 1
    })
    .await;
    let answer = status::RelayAnswer::of(&link);
    assert_eq!(
        (answer.closed, answer.last_closed.as_deref()),
        (1, Some("error: too busy"))
    );
    assert_eq!(answer.connects, 2);
    assert_eq!(follower.store.page(0, 10).1, 1);
    trigger.trigger();
    running.await.unwrap().unwrap();
    relay.abort();
}

#[tokio::test]
async fn a_wss_relay_that_speaks_no_tls_is_a_failure_not_a_panic() {
    // The TLS client is built on the first wss:// connection: this checks that the build has
    // exactly one rustls crypto provider (else rustls panics there).
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("wss://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        for _ in 0..2 {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let _ = tokio::io::AsyncWriteExt::write_all(&mut tcp, b"HTTP/1.1 400 no\r\n\r\n").await;
        }
    });
    let link = Arc::new(RelayLink::new(url));
    let (trigger, shutdown) = Shutdown::new();
    let running = tokio::spawn(Arc::clone(&link).run(None, shutdown));
    until(&link, "a failure", |l| {
        l.counters.failures.load(Ordering::Relaxed) >= 1
    })
    .await;
    let error = status::RelayAnswer::of(&link).last_error.unwrap();
    assert!(!error.is_empty());
    trigger.trigger();
    running.await.expect("no panic").unwrap();
    server.abort();
}

#[tokio::test]
async fn a_relay_message_over_the_limit_ends_the_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let relay = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut socket = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let huge = RelayMessage::notice("x".repeat(MAX_MESSAGE + 1)).as_json();
        let _ = socket.send(Message::text(huge)).await;
        while socket.next().await.is_some() {}
    });
    let link = Arc::new(RelayLink::new(url));
    let (trigger, shutdown) = Shutdown::new();
    let running = tokio::spawn(Arc::clone(&link).run(None, shutdown));
    until(&link, "lost", |l| {
        l.counters.failures.load(Ordering::Relaxed) == 1
    })
    .await;
    let answer = status::RelayAnswer::of(&link);
    assert_eq!((answer.connects, answer.notices), (1, 0), "{answer:?}");
    trigger.trigger();
    running.await.unwrap().unwrap();
    relay.abort();
}
