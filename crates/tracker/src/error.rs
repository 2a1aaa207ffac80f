//! Errors (BEP 3, 15): what went wrong with a tracker, shaped by what the caller does next.
//!
//! [`TrackerError`] is what an announce or scrape ends in: try the next tracker, back off, or show
//! the tracker's own words. [`ParseError`] is the pure codecs' verdict on bytes that are not the
//! message they claim to be; a client turns it into [`TrackerError::InvalidResponse`], a server
//! into a rejected request.

use swarmgate_bencode::DecodeError;
use swarmgate_core::LengthError;

/// Why bytes are not a valid tracker message (HTTP query, HTTP body or UDP packet).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The body is not bencode at all.
    #[error("body is not bencode: {0}")]
    Bencode(#[from] DecodeError),
    /// The body is bencode but its top level is not a dictionary.
    #[error("top level is not a dictionary")]
    NotDictionary,
    /// A required field is absent.
    #[error("missing field `{field}`")]
    Missing {
        /// The field's name on the wire.
        field: &'static str,
    },
    /// A field is present with the wrong type or an out-of-range value.
    #[error("field `{field}` is not {expected}")]
    BadField {
        /// The field's name on the wire.
        field: &'static str,
        /// What it should have been.
        expected: &'static str,
    },
    /// A packet or packed list has the wrong length.
    #[error("{what}: expected {expected} bytes, got {actual}")]
    Length {
        /// What was being read.
        what: &'static str,
        /// The length (or the unit of length) required.
        expected: usize,
        /// The length found.
        actual: usize,
    },
    /// A UDP packet carries an action this message cannot have.
    #[error("unexpected UDP action {action}")]
    UnknownAction {
        /// The action number found.
        action: u32,
    },
    /// A UDP connect request without the BEP 15 protocol id.
    #[error("wrong UDP protocol id {found:#x}")]
    ProtocolId {
        /// The 64-bit value found where the protocol id belongs.
        found: u64,
    },
}

impl From<LengthError> for ParseError {
    fn from(e: LengthError) -> Self {
        ParseError::Length {
            what: e.what,
            expected: e.expected,
            actual: e.actual,
        }
    }
}

/// Why an announce or scrape did not produce an answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrackerError {
    /// The tracker refused, in its own words (`failure reason`, or a UDP error packet): show it;
    /// retrying the same tracker at once will not help.
    #[error("tracker failure: {0}")]
    Failure(String),
    /// No answer in time (HTTP timeout, or UDP retransmissions exhausted): try the next tracker.
    #[error("tracker did not answer in time")]
    Timeout,
    /// The network said no: resolution, connection or socket error. Try the next tracker.
    #[error("tracker I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The HTTP tracker answered with a status other than 200.
    #[error("tracker answered HTTP {status}")]
    Http {
        /// The status code.
        status: u16,
    },
    /// The tracker answered with something that is not a valid reply.
    #[error("invalid tracker response: {context}")]
    InvalidResponse {
        /// What was wrong, and where.
        context: String,
    },
    /// The URL's scheme is not one this client speaks (or the URL does not parse, or a scrape
    /// URL cannot be derived from it): skip this tracker.
    #[error("unsupported tracker URL {url:?}: {reason}")]
    UnsupportedUrl {
        /// The URL as given.
        url: String,
        /// Why it cannot be used.
        reason: &'static str,
    },
    /// There is no tracker to ask: the torrent lists none.
    #[error("no trackers")]
    NoTrackers,
}

impl From<ParseError> for TrackerError {
    fn from(e: ParseError) -> Self {
        TrackerError::InvalidResponse {
            context: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_become_invalid_responses_with_their_context() {
        let e: TrackerError = ParseError::Missing { field: "interval" }.into();
        assert_eq!(
            e.to_string(),
            "invalid tracker response: missing field `interval`"
        );
    }
}
