//! BUD-09 reports: a signed NIP-56 kind 1984 event naming blobs with `["x", sha256, type]` tags.
//!
//! A report is checked like an authorization (id and BIP-340 signature through the `nostr`
//! crate) and then reduced to what a store keeps and an administrator reads: who reported which
//! blobs for which reason, and the signed event itself, so it can be verified again or forwarded.
//! A report naming no blob, or a blob with no or an unknown NIP-56 type, is refused whole:
//! clients send the seven types of NIP-56, and a server that guessed would file reports under
//! reasons their authors did not give.

use std::fmt;
use std::str::FromStr;

use nostr::{Event, JsonUtil};
use swarmgate_core::{Pubkey, Sha256};

/// The largest report body accepted, in bytes.
pub const MAX_REPORT_LEN: usize = 64 * 1024;

/// The NIP-56 kind of a report.
pub const REPORT_KIND: u16 = 1984;

/// A NIP-56 report type (the third element of an `x` tag).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReportType {
    /// Depictions of nudity, porn.
    Nudity,
    /// Virus, trojan, worm, malware.
    Malware,
    /// Profanity, hateful speech.
    Profanity,
    /// Something that may be illegal in some jurisdiction.
    Illegal,
    /// Spam.
    Spam,
    /// Someone pretending to be someone else.
    Impersonation,
    /// Any other reason.
    Other,
}

impl ReportType {
    /// The NIP-56 word.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Nudity => "nudity",
            Self::Malware => "malware",
            Self::Profanity => "profanity",
            Self::Illegal => "illegal",
            Self::Spam => "spam",
            Self::Impersonation => "impersonation",
            Self::Other => "other",
        }
    }
}

impl FromStr for ReportType {
    type Err = ReportError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "nudity" => Self::Nudity,
            "malware" => Self::Malware,
            "profanity" => Self::Profanity,
            "illegal" => Self::Illegal,
            "spam" => Self::Spam,
            "impersonation" => Self::Impersonation,
            "other" => Self::Other,
            _ => return Err(ReportError::UnknownType(truncate(s))),
        })
    }
}

impl fmt::Display for ReportType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One blob a report names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportedBlob {
    /// The blob.
    pub sha256: Sha256,
    /// Why it is reported.
    pub kind: ReportType,
}

/// A verified BUD-09 report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The event id, lower-case hex.
    pub event_id: String,
    /// Who signed it.
    pub reporter: Pubkey,
    /// When it was signed, unix seconds.
    pub created_at: u64,
    /// The blobs it names (at least one).
    pub blobs: Vec<ReportedBlob>,
    /// Its free text.
    pub content: String,
    /// The signed event, as JSON.
    pub event_json: String,
}

/// Why a report body is refused (HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// The body is larger than [`MAX_REPORT_LEN`].
    #[error("the report is longer than {MAX_REPORT_LEN} bytes")]
    TooLong,
    /// The body is not a Nostr event.
    #[error("the report is not a Nostr event: {0}")]
    NotAnEvent(String),
    /// Its id is not the hash of its content, or its signature does not verify.
    #[error("the report's id or signature does not verify")]
    BadSignature,
    /// It is not kind 1984.
    #[error("the report is kind {0}, not 1984")]
    WrongKind(u16),
    /// It names no blob with an `["x", sha256, type]` tag.
    #[error("the report names no blob: it needs an [\"x\", sha256, type] tag")]
    NoBlob,
    /// An `x` tag holds no valid sha256.
    #[error("an x tag holds no valid sha256")]
    BadHash,
    /// An `x` tag has no NIP-56 type, or one NIP-56 does not list.
    #[error(
        "unknown report type {0:?}: expected one of nudity, malware, profanity, illegal, spam, impersonation, other"
    )]
    UnknownType(String),
}

/// Parses and verifies a `PUT /report` body.
pub fn parse_report(body: &[u8]) -> Result<Report, ReportError> {
    if body.len() > MAX_REPORT_LEN {
        return Err(ReportError::TooLong);
    }
    let text = std::str::from_utf8(body).map_err(|e| ReportError::NotAnEvent(e.to_string()))?;
    let event = Event::from_json(text).map_err(|e| ReportError::NotAnEvent(e.to_string()))?;
    if event.verify().is_err() {
        return Err(ReportError::BadSignature);
    }
    let kind = event.kind.as_u16();
    if kind != REPORT_KIND {
        return Err(ReportError::WrongKind(kind));
    }
    let mut blobs = Vec::new();
    for tag in event.tags.iter() {
        let tag = tag.as_slice();
        if tag.first().map(String::as_str) != Some("x") {
            continue;
        }
        let sha256 = tag
            .get(1)
            .and_then(|hex| Sha256::from_hex(hex).ok())
            .ok_or(ReportError::BadHash)?;
        let kind = tag.get(2).map_or("", String::as_str).parse()?;
        blobs.push(ReportedBlob { sha256, kind });
    }
    if blobs.is_empty() {
        return Err(ReportError::NoBlob);
    }
    Ok(Report {
        event_id: event.id.to_hex(),
        reporter: Pubkey(event.pubkey.to_bytes()),
        created_at: event.created_at.as_secs(),
        blobs,
        content: event.content.clone(),
        event_json: event.as_json(),
    })
}

/// At most 64 characters of hostile text, for an error message.
fn truncate(text: &str) -> String {
    text.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use nostr::{EventBuilder, Keys, Kind, Tag};

    fn signed(kind: u16, tags: &[&[&str]]) -> String {
        let tags = tags
            .iter()
            .map(|tag| Tag::parse(tag.iter().copied()).unwrap());
        EventBuilder::new(Kind::Custom(kind), "why")
            .tags(tags)
            .sign_with_keys(&Keys::generate())
            .unwrap()
            .as_json()
    }

    #[test]
    fn a_signed_report_names_its_blobs_and_reasons() {
        let a = "aa".repeat(32);
        let b = "bb".repeat(32);
        let json = signed(
            1984,
            &[&["x", &a, "malware"], &["p", &a], &["x", &b, "spam"]],
        );
        let report = parse_report(json.as_bytes()).unwrap();
        let kinds: Vec<_> = report.blobs.iter().map(|blob| blob.kind).collect();
        assert_eq!(kinds, [ReportType::Malware, ReportType::Spam]);
        assert_eq!(report.blobs[1].sha256, Sha256([0xbb; 32]));
        assert_eq!(report.content, "why");
        assert_eq!(parse_report(report.event_json.as_bytes()).unwrap(), report);
    }

    #[test]
    fn malformed_reports_say_why() {
        let a = "aa".repeat(32);
        let cases = [
            (signed(1, &[&["x", &a, "spam"]]), ReportError::WrongKind(1)),
            (signed(1984, &[&["e", &a]]), ReportError::NoBlob),
            (signed(1984, &[&["x", "zz", "spam"]]), ReportError::BadHash),
            (
                signed(1984, &[&["x", &a]]),
                ReportError::UnknownType(String::new()),
            ),
            (
                signed(1984, &[&["x", &a, "boring"]]),
                ReportError::UnknownType("boring".into()),
            ),
        ];
        for (json, error) in cases {
            assert_eq!(parse_report(json.as_bytes()), Err(error));
        }
        let tampered = signed(1984, &[&["x", &a, "spam"]]).replace("why", "who");
        assert_eq!(
            parse_report(tampered.as_bytes()),
            Err(ReportError::BadSignature)
        );
        assert!(matches!(
            parse_report(b"{}"),
            Err(ReportError::NotAnEvent(_))
        ));
        assert_eq!(
            parse_report(&vec![b' '; MAX_REPORT_LEN + 1]),
            Err(ReportError::TooLong)
        );
        for word in [
            "nudity",
            "malware",
            "profanity",
            "illegal",
            "spam",
            "impersonation",
            "other",
        ] {
            assert_eq!(word.parse::<ReportType>().unwrap().as_str(), word);
        }
    }
}
