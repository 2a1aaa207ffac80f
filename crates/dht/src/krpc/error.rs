//! Why a datagram did not decode (BEP 5 KRPC), shaped by what the node does next.
//!
//! Two outcomes only. [`KrpcError::Ignore`]: the datagram is not a KRPC message at all (or one
//! we cannot answer, such as a transaction id beyond the limit): drop it silently and count it.
//! [`KrpcError::Malformed`]: a KRPC message whose body is wrong; a query gets error 203 with
//! its transaction id echoed ([`KrpcError::reply`]), a response or an error is dropped, since
//! answering an answer is a magnification attack (arvidn/libtorrent#96).

use swarmgate_bencode::DecodeError;

use super::message::{ERROR_PROTOCOL, Message};

/// What [`Message::decode`] refused, and so what the node does with the datagram.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KrpcError {
    /// Not a KRPC message: drop it without an answer and count it under `reason`.
    #[error("not a KRPC message: {reason}")]
    Ignore {
        /// What was missing or wrong.
        reason: IgnoreReason,
    },
    /// A KRPC message with a malformed body. Answer a query with error 203 echoing
    /// `transaction_id` ([`KrpcError::reply`]); drop a malformed response or error.
    #[error("malformed KRPC {}: {reason}", if *is_query { "query" } else { "answer" })]
    Malformed {
        /// The message's `t`, to echo in the error answer.
        transaction_id: Vec<u8>,
        /// True for a query (`y = q`): only those are answered.
        is_query: bool,
        /// The offending field and what was wrong with it.
        reason: InvalidField,
    },
}

impl KrpcError {
    /// The answer the node sends: error 203 naming the offending field, for a malformed query
    /// only. `None` for everything else (never answer an answer).
    pub fn reply(&self) -> Option<Message> {
        match self {
            KrpcError::Malformed {
                transaction_id,
                is_query: true,
                reason,
            } => Some(Message::error(
                transaction_id.clone(),
                ERROR_PROTOCOL,
                reason.to_string(),
            )),
            _ => None,
        }
    }

    /// A short stable name for the drop counter this error belongs to.
    pub fn label(&self) -> &'static str {
        match self {
            KrpcError::Ignore { reason } => reason.label(),
            KrpcError::Malformed { is_query: true, .. } => "malformed_query",
            KrpcError::Malformed {
                is_query: false, ..
            } => "malformed_answer",
        }
    }

    pub(crate) fn ignore(reason: IgnoreReason) -> Self {
        KrpcError::Ignore { reason }
    }
}

/// Why a datagram is not KRPC at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IgnoreReason {
    /// Longer than [`KrpcLimits::max_datagram_len`](super::KrpcLimits::max_datagram_len).
    #[error("{len}-byte datagram, more than the limit of {limit}")]
    TooLarge {
        /// The datagram's length.
        len: usize,
        /// The limit in force.
        limit: usize,
    },
    /// Not one complete bencoded value within the nesting limit.
    #[error("{0}")]
    NotBencode(DecodeError),
    /// Bencode, but not a dictionary.
    #[error("not a dictionary")]
    NotADictionary,
    /// No `t` key, or not a byte string: there is nothing to echo, so nothing to answer.
    #[error("no transaction id `t`")]
    NoTransactionId,
    /// A `t` longer than
    /// [`KrpcLimits::max_transaction_id_len`](super::KrpcLimits::max_transaction_id_len).
    #[error("{len}-byte transaction id, more than the limit of {limit}")]
    TransactionIdTooLong {
        /// The transaction id's length.
        len: usize,
        /// The limit in force.
        limit: usize,
    },
    /// No `y` key, or not one of `q`, `r`, `e`.
    #[error("no message type `y` of q, r or e")]
    UnknownType,
}

impl IgnoreReason {
    /// A short stable name for the drop counter.
    pub fn label(&self) -> &'static str {
        match self {
            IgnoreReason::TooLarge { .. } => "too_large",
            IgnoreReason::NotBencode(_) => "not_bencode",
            IgnoreReason::NotADictionary => "not_a_dictionary",
            IgnoreReason::NoTransactionId => "no_transaction_id",
            IgnoreReason::TransactionIdTooLong { .. } => "transaction_id_too_long",
            IgnoreReason::UnknownType => "unknown_type",
        }
    }
}

/// A field of a KRPC message that is missing or wrong: displayed as the 203 answer's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid `{field}`: {problem}")]
pub struct InvalidField {
    /// The key, as on the wire (`a`, `id`, `nodes`, `port`, ...).
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: Problem,
}

/// What is wrong with an [`InvalidField`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The key is required and absent.
    #[error("missing")]
    Missing,
    /// The value is of another bencode type.
    #[error("expected {expected}")]
    WrongType {
        /// The type the key takes ("a byte string", "an integer", ...).
        expected: &'static str,
    },
    /// A byte string of the wrong length.
    #[error("{actual} bytes, expected {expected}")]
    WrongLength {
        /// The length the key takes ("20", "a multiple of 26", ...).
        expected: &'static str,
        /// The length found.
        actual: usize,
    },
    /// More entries than the decoder's limit.
    #[error("{actual} entries, more than the limit of {limit}")]
    TooMany {
        /// The limit in force.
        limit: usize,
        /// The number of entries found.
        actual: usize,
    },
    /// An integer outside the key's range (port 0, a negative count).
    #[error("{value} is out of range")]
    OutOfRange {
        /// The integer found.
        value: i64,
    },
}

impl InvalidField {
    pub(crate) fn new(field: &'static str, problem: Problem) -> Self {
        InvalidField { field, problem }
    }

    pub(crate) fn missing(field: &'static str) -> Self {
        InvalidField::new(field, Problem::Missing)
    }

    pub(crate) fn wrong_type(field: &'static str, expected: &'static str) -> Self {
        InvalidField::new(field, Problem::WrongType { expected })
    }

    pub(crate) fn wrong_length(field: &'static str, expected: &'static str, actual: usize) -> Self {
        InvalidField::new(field, Problem::WrongLength { expected, actual })
    }

    pub(crate) fn too_many(field: &'static str, limit: usize, actual: usize) -> Self {
        InvalidField::new(field, Problem::TooMany { limit, actual })
    }

    pub(crate) fn out_of_range(field: &'static str, value: i64) -> Self {
        InvalidField::new(field, Problem::OutOfRange { value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::krpc::Body;

    #[test]
    fn only_malformed_queries_are_answered_with_203_echoing_the_transaction_id() {
        let reason = InvalidField::out_of_range("port", 0);
        let query = KrpcError::Malformed {
            transaction_id: b"xy".to_vec(),
            is_query: true,
            reason: reason.clone(),
        };
        let reply = query.reply().expect("a malformed query is answered");
        assert_eq!(reply.transaction_id, b"xy");
        assert_eq!(
            reply.body,
            Body::Error {
                code: 203,
                message: "invalid `port`: 0 is out of range".into()
            }
        );
        assert_eq!(query.label(), "malformed_query");
        let answer = KrpcError::Malformed {
            transaction_id: b"xy".to_vec(),
            is_query: false,
            reason,
        };
        assert_eq!(answer.reply(), None);
        assert_eq!(answer.label(), "malformed_answer");
        let ignored = KrpcError::ignore(IgnoreReason::UnknownType);
        assert_eq!(ignored.reply(), None);
        assert_eq!(ignored.label(), "unknown_type");
    }

    #[test]
    fn messages_name_the_field() {
        let e = InvalidField::wrong_length("nodes", "a multiple of 26", 9);
        assert_eq!(
            e.to_string(),
            "invalid `nodes`: 9 bytes, expected a multiple of 26"
        );
        let e = InvalidField::too_many("values", 100, 101);
        assert_eq!(
            e.to_string(),
            "invalid `values`: 101 entries, more than the limit of 100"
        );
        assert_eq!(
            InvalidField::missing("id").to_string(),
            "invalid `id`: missing"
        );
    }
}
