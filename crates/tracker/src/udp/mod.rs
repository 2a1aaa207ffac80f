//! UDP trackers (BEP 15): the packet codec and a sans-IO client for one tracker address.
//!
//! [`UdpRequest`] and [`UdpResponse`] encode and decode every packet in both directions, so a
//! server reuses them. [`UdpTrackerClient`] is the client's state machine: connect, reuse the
//! connection id for a minute, retransmit on the 15 * 2^n schedule, give up after n = 8. It never
//! touches a socket or the clock; `UdpTracker` (feature `client`) drives it with tokio.

mod client;
mod packet;

pub use client::{UdpClientConfig, UdpEvent, UdpTrackerClient};
pub(crate) use packet::{
    ANNOUNCE_HEAD_LEN, CONNECT, announce_head, encode_connect, encode_error, encode_scrape,
};
pub use packet::{AddressFamily, MAX_SCRAPE_HASHES, PROTOCOL_ID, UdpRequest, UdpResponse};
