//! Fuzzes swarmgate-dht's KRPC decoder: never panics, whatever decodes re-encodes to bytes that
//! decode to the same message (and that encode to themselves: the encoding is canonical), and
//! only a malformed query is ever answered.

#![no_main]

use libfuzzer_sys::fuzz_target;
use swarmgate_dht::{KrpcError, KrpcLimits, Message};

fuzz_target!(|data: &[u8]| {
    let limits = KrpcLimits {
        max_datagram_len: 4096,
        ..KrpcLimits::default()
    };
    // A re-encoding can be longer than its input (an error message's invalid UTF-8 becomes
    // U+FFFD, three bytes each): only the datagram length limit is lifted for it.
    let unbounded = KrpcLimits {
        max_datagram_len: usize::MAX,
        ..limits
    };
    match Message::decode(data, &limits) {
        Ok(message) => {
            let mut bytes = Vec::new();
            message.encode(&mut bytes);
            let again = Message::decode(&bytes, &unbounded).expect("an encoding decodes");
            assert_eq!(again, message);
            let mut twice = Vec::new();
            again.encode(&mut twice);
            assert_eq!(twice, bytes);
        }
        Err(error) => {
            let _ = error.to_string();
            match &error {
                KrpcError::Malformed { is_query: true, .. } => {
                    let reply = error.reply().expect("a malformed query is answered");
                    let mut bytes = Vec::new();
                    reply.encode(&mut bytes);
                    assert_eq!(Message::decode(&bytes, &unbounded).unwrap(), reply);
                }
                _ => assert!(error.reply().is_none()),
            }
        }
    }
});
