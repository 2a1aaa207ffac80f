//! HTTP trackers (BEP 3, 7, 23, 48): announce and scrape URLs, their query strings, and the
//! bencoded bodies that answer them.
//!
//! Both directions are here, so a client and a server share one codec: [`announce_url`] builds
//! what a client requests and [`parse_announce_query`] reads it back on the server;
//! [`encode_announce_response`] writes a body and [`decode_announce_response`] reads it. The same
//! pairs exist for scrape. Bodies are whole (an HTTP response read to its end), so decoders take a
//! complete slice rather than the streaming `Option` shape of the socket codecs.

mod query;
mod response;
mod scrape;

pub use query::{announce_url, parse_announce_query, parse_scrape_query, scrape_request_url};
pub(crate) use response::AnnounceBody;
pub use response::{decode_announce_response, encode_announce_response, encode_failure};
pub use scrape::{decode_scrape_response, encode_scrape_response, scrape_url};

/// Bencode limits for tracker bodies: a reply nests three deep (dictionary, peer list, peer);
/// a little slack for extension keys, nothing more.
fn body_limits() -> swarmgate_bencode::Limits {
    swarmgate_bencode::Limits::new().max_depth(16)
}
