//! HTTP tracker requests (BEP 3, 7, 23, 48) answered by a [`Tracker`], independent of any HTTP
//! library: a request target in, a status and a bencoded body out.
//!
//! Every malformed announce or scrape is answered `200 OK` with a bencoded `failure reason`,
//! because that is what clients show their users; an HTTP error status makes libtorrent and
//! Transmission report only "tracker error". The one exception is the rate limit: `429` with
//! `Retry-After` (and the same failure body), so that proxies and well-behaved clients back off.
//! An announce is answered with the peers of the announcing address's family: compact, IPv4 peers
//! in `peers`, IPv6 peers in `peers6` (with an empty `peers`); a client asking with `compact=0`
//! gets the BEP 3 list of `{ip, port}` dictionaries. The body is written by the crate's one
//! announce encoder (`AnnounceBody`, shared with [`encode_announce_response`]), straight from
//! the registry's compact bytes.
//!
//! [`encode_announce_response`]: crate::encode_announce_response

use std::net::SocketAddr;
use std::time::Instant;

use super::{Refusal, Tracker};
use crate::http::{
    AnnounceBody, encode_failure, encode_scrape_response, parse_announce_query, parse_scrape_query,
};
use crate::udp::AddressFamily;

/// What to send back for one HTTP request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpAnswer {
    /// The status code: 200, 404 for an unknown path, 429 when rate-limited.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// Seconds for a `Retry-After` header, with 429.
    pub retry_after: Option<u64>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpAnswer {
    fn bencode(body: Vec<u8>) -> Self {
        HttpAnswer {
            status: 200,
            content_type: "text/plain",
            retry_after: None,
            body,
        }
    }

    fn refused(refusal: &Refusal) -> Self {
        let mut answer = Self::bencode(encode_failure(&refusal.to_string()));
        if let Refusal::RateLimited { retry_after } = refusal {
            answer.status = 429;
            answer.retry_after = Some(retry_after.as_secs_f64().ceil() as u64);
        }
        answer
    }
}

impl Tracker {
    /// Answers an HTTP GET whose request target (path and query) is `target`: `/announce` and
    /// `/scrape`; anything else is a 404.
    ///
    /// ```
    /// use std::time::Instant;
    /// use swarmgate_tracker::{Tracker, TrackerConfig};
    ///
    /// let now = Instant::now();
    /// // In a server: 16 bytes from the operating system, e.g. `getrandom::fill`.
    /// let secret = [0x5a; 16];
    /// let tracker = Tracker::new(TrackerConfig::default(), now, secret)?;
    /// let target = b"/announce?info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb\
    ///                &port=6881&left=0&compact=1";
    /// let answer = tracker.handle_http(now, target, "192.0.2.7:50000".parse()?);
    /// assert_eq!(answer.status, 200);
    /// assert!(answer.body.starts_with(b"d8:completei1e10:downloadedi0e10:incompletei0e"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handle_http(&self, now: Instant, target: &[u8], source: SocketAddr) -> HttpAnswer {
        let (path, query) = match target.iter().position(|&b| b == b'?') {
            Some(q) => (&target[..q], &target[q + 1..]),
            None => (target, &target[target.len()..]),
        };
        let query = match query.iter().position(|&b| b == b'#') {
            Some(hash) => &query[..hash],
            None => query,
        };
        match path {
            b"/announce" => self.http_announce(now, query, source),
            b"/scrape" => self.http_scrape(now, query, source),
            _ => HttpAnswer {
                status: 404,
                content_type: "text/plain",
                retry_after: None,
                body: b"not found: this tracker serves /announce and /scrape\n".to_vec(),
            },
        }
    }

    /// Answers an announce query string (the part after `?`).
    pub fn http_announce(&self, now: Instant, query: &[u8], source: SocketAddr) -> HttpAnswer {
        if let Err(refusal) = self.admit(source.ip(), now) {
            return HttpAnswer::refused(&refusal);
        }
        let request = match parse_announce_query(query) {
            Ok(request) => request,
            Err(e) => return HttpAnswer::refused(&self.refuse(Refusal::Malformed(e))),
        };
        let mut peers = Vec::with_capacity(6 * 64);
        let announced = match self.announce_admitted(now, &request, source, &mut peers) {
            Ok(announced) => announced,
            Err(refusal) => return HttpAnswer::refused(&refusal),
        };
        let body = AnnounceBody {
            interval: announced.interval,
            min_interval: Some(self.config().min_interval),
            complete: Some(announced.complete),
            incomplete: Some(announced.incomplete),
            downloaded: Some(announced.downloaded),
            peers: match announced.family {
                AddressFamily::V4 => &peers,
                AddressFamily::V6 => b"",
            },
            peers6: (announced.family == AddressFamily::V6).then_some(&peers[..]),
            warning: None,
            tracker_id: None,
        };
        HttpAnswer::bencode(body.encode(request.compact))
    }

    /// Answers a scrape query string (BEP 48): the named torrents, or every torrent when none
    /// is named and full scrape is configured.
    pub fn http_scrape(&self, now: Instant, query: &[u8], source: SocketAddr) -> HttpAnswer {
        if let Err(refusal) = self.admit(source.ip(), now) {
            return HttpAnswer::refused(&refusal);
        }
        let hashes = match parse_scrape_query(query) {
            Ok(hashes) => hashes,
            Err(e) => return HttpAnswer::refused(&self.refuse(Refusal::Malformed(e))),
        };
        let max = self.config().max_scrape_hashes;
        let files = if hashes.is_empty() {
            if !self.config().full_scrape {
                return HttpAnswer::refused(&self.refuse(Refusal::FullScrapeDisabled));
            }
            self.scrape_all()
        } else if hashes.len() > max {
            let refusal = Refusal::TooManyHashes {
                count: hashes.len(),
                max,
            };
            return HttpAnswer::refused(&self.refuse(refusal));
        } else {
            let stats = self.scrape(&hashes);
            hashes.into_iter().zip(stats).collect()
        };
        HttpAnswer::bencode(encode_scrape_response(&files))
    }
}
