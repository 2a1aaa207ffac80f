//! BUD-11 authorization: the `Authorization: Nostr <token>` header, a signed kind 24242 event,
//! checked with `now` passed in.
//!
//! Real clients disagree on the token's form (spec 2.15): the current BUD says base64url without
//! padding and a bare lower-case domain in `server` tags; blossom-client-sdk and the conformance
//! suite send standard padded base64 and full URLs. So the decoding is lenient (either alphabet,
//! padded or not, bounded to [`MAX_HEADER_LEN`]) and `server` tags are compared by host name
//! ([`server_host`]), port and scheme ignored. Everything else is strict and checked in the
//! BUD's order after the id and the BIP-340 signature (through the `nostr` crate): kind, a
//! `created_at` no further ahead than a bounded skew, an `expiration` in the future, the verb,
//! the server, the `x` tags. Each refusal is its own [`AuthError`] variant with its HTTP status
//! and the text that goes into `X-Reason`.

use nostr::{Event, JsonUtil};
use swarmgate_core::{Pubkey, Sha256};

use crate::base64::{TokenEncoding, decode_lenient};

/// The longest `Authorization` header accepted, in bytes.
pub const MAX_HEADER_LEN: usize = 8 * 1024;

/// The event kind of a Blossom authorization.
pub const AUTH_KIND: u16 = 24242;

/// The action a token allows (its `t` tag).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verb {
    /// `GET`/`HEAD /<sha256>`.
    Get,
    /// `PUT /upload`, `HEAD /upload`, `PUT /mirror`.
    Upload,
    /// `GET /list/<pubkey>`.
    List,
    /// `DELETE /<sha256>`.
    Delete,
    /// `PUT /media`, `HEAD /media`.
    Media,
}

impl Verb {
    /// The word of the `t` tag.
    pub const fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::Upload => "upload",
            Verb::List => "list",
            Verb::Delete => "delete",
            Verb::Media => "media",
        }
    }

    /// The verb of a `t` tag value.
    pub fn parse(word: &str) -> Option<Verb> {
        [
            Verb::Get,
            Verb::Upload,
            Verb::List,
            Verb::Delete,
            Verb::Media,
        ]
        .into_iter()
        .find(|verb| verb.as_str() == word)
    }
}

/// What the endpoint demands of the `x` tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XRule {
    /// `x` tags are not looked at.
    Ignore,
    /// At least one `x` tag must equal this hash (upload with `X-SHA-256`, delete).
    Required(Sha256),
    /// At least one `x` tag must exist (the hash is known only later: an upload without
    /// `X-SHA-256`, a mirror): the store then checks the body against them.
    Any,
    /// When the token has `x` tags, one must equal this hash (a scoped `get` token).
    IfScoped(Sha256),
}

/// What the server checks a token against: the request side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthRequest {
    /// The endpoint's verb.
    pub verb: Verb,
    /// The endpoint's demand on `x` tags.
    pub x: XRule,
}

/// What the server checks a token against: the server side.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthRules {
    /// This server's host names, lower case (`server` tags must name one of them when a token
    /// has any). Entries may be given as URLs or with ports: only the host counts.
    pub servers: Vec<String>,
    /// How far in the future `created_at` may be, in seconds (clients' clocks drift).
    pub max_skew: u64,
}

/// A token that passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    /// Who signed it.
    pub pubkey: Pubkey,
    /// Its verb.
    pub verb: Verb,
    /// Its `expiration`, unix seconds.
    pub expiration: u64,
    /// Its `x` tags that hold a valid sha256.
    pub x: Vec<Sha256>,
    /// Its event id, lower-case hex.
    pub event_id: String,
}

/// Why a token was refused. [`AuthError::status`] is the HTTP status; the `Display` text is the
/// `X-Reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header, on an endpoint that needs one.
    #[error("authorization required: send Authorization: Nostr <base64 kind 24242 event>")]
    Missing,
    /// The header does not start with `Nostr `.
    #[error("authorization scheme must be Nostr")]
    Scheme,
    /// The header is longer than [`MAX_HEADER_LEN`].
    #[error("authorization header longer than {MAX_HEADER_LEN} bytes")]
    TooLong,
    /// The token is not base64 (standard or URL-safe).
    #[error("authorization token is not base64")]
    Encoding,
    /// The token is not a Nostr event.
    #[error("authorization token is not a Nostr event: {0}")]
    NotAnEvent(String),
    /// The event id is not the hash of the event.
    #[error("authorization event id does not match its content")]
    BadId,
    /// The signature does not verify.
    #[error("authorization signature is invalid")]
    BadSignature,
    /// The event is not kind 24242.
    #[error("authorization event is kind {0}, expected 24242")]
    WrongKind(u16),
    /// `created_at` is further in the future than the allowed skew.
    #[error("authorization created_at {created_at} is in the future (now {now})")]
    CreatedInFuture {
        /// The token's time.
        created_at: u64,
        /// The server's time.
        now: u64,
    },
    /// No (numeric) `expiration` tag.
    #[error("authorization has no expiration tag")]
    NoExpiration,
    /// `expiration` is not in the future.
    #[error("authorization expired at {expiration} (now {now})")]
    Expired {
        /// The token's expiration.
        expiration: u64,
        /// The server's time.
        now: u64,
    },
    /// The `t` tag is missing or names another action.
    #[error("authorization is not for {expected}")]
    WrongVerb {
        /// The endpoint's verb.
        expected: &'static str,
    },
    /// The token's `server` tags name other servers.
    #[error("authorization is for another server")]
    WrongServer,
    /// The endpoint needs an `x` tag and the token has none.
    #[error("authorization has no x tag")]
    MissingX,
    /// No `x` tag names the blob of this request.
    #[error("authorization x tags do not include the blob's sha256")]
    WrongX,
    /// The signer is not on this server's allow-list.
    #[error("this pubkey may not use this server")]
    NotAllowed,
}

impl AuthError {
    /// The HTTP status: 401 when the request carries no valid credentials, 403 when it does
    /// but they do not allow this request.
    pub fn status(&self) -> u16 {
        match self {
            AuthError::WrongVerb { .. }
            | AuthError::WrongServer
            | AuthError::MissingX
            | AuthError::WrongX
            | AuthError::NotAllowed => 403,
            _ => 401,
        }
    }
}

/// The `Authorization` header value a client sends for a signed kind 24242 event:
/// `Nostr <base64 of the event's JSON>`, in `encoding` (current clients: URL-safe).
pub fn authorization_header(event_json: impl AsRef<[u8]>, encoding: TokenEncoding) -> String {
    format!(
        "Nostr {}",
        crate::base64::encode(event_json.as_ref(), encoding)
    )
}

/// Decodes and verifies (id, signature) the event of an `Authorization` header value.
pub fn parse_authorization(header: &str) -> Result<Event, AuthError> {
    if header.len() > MAX_HEADER_LEN {
        return Err(AuthError::TooLong);
    }
    let header = header.trim();
    let token = match header.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("nostr") => token.trim(),
        _ => return Err(AuthError::Scheme),
    };
    let json = decode_lenient(token).ok_or(AuthError::Encoding)?;
    let json = std::str::from_utf8(&json).map_err(|e| AuthError::NotAnEvent(e.to_string()))?;
    let event = Event::from_json(json).map_err(|e| AuthError::NotAnEvent(short(&e.to_string())))?;
    if !event.verify_id() {
        return Err(AuthError::BadId);
    }
    if !event.verify_signature() {
        return Err(AuthError::BadSignature);
    }
    Ok(event)
}

/// Checks a verified event against the request and the server's rules at `now` (unix seconds),
/// in BUD-11's order.
pub fn check_authorization(
    event: &Event,
    request: &AuthRequest,
    now: u64,
    rules: &AuthRules,
) -> Result<Authorization, AuthError> {
    let kind = event.kind.as_u16();
    if kind != AUTH_KIND {
        return Err(AuthError::WrongKind(kind));
    }
    let created_at = event.created_at.as_secs();
    if created_at > now.saturating_add(rules.max_skew) {
        return Err(AuthError::CreatedInFuture { created_at, now });
    }
    let tags: Vec<&[String]> = event.tags.iter().map(|tag| tag.as_slice()).collect();
    let values = |name: &'static str| {
        tags.iter()
            .filter(move |tag| tag.first().map(String::as_str) == Some(name))
            .filter_map(|tag| tag.get(1).map(String::as_str))
    };
    let expiration = values("expiration")
        .find_map(|value| value.parse::<u64>().ok())
        .ok_or(AuthError::NoExpiration)?;
    if expiration <= now {
        return Err(AuthError::Expired { expiration, now });
    }
    let verb = request.verb;
    if !values("t").any(|word| word == verb.as_str()) {
        return Err(AuthError::WrongVerb {
            expected: verb.as_str(),
        });
    }
    let mut servers = values("server").peekable();
    if servers.peek().is_some() {
        let ours: Vec<String> = rules
            .servers
            .iter()
            .filter_map(|s| server_host(s))
            .collect();
        if !servers.any(|tag| server_host(tag).is_some_and(|host| ours.contains(&host))) {
            return Err(AuthError::WrongServer);
        }
    }
    let x: Vec<Sha256> = values("x")
        .filter_map(|hex| Sha256::from_hex(hex).ok())
        .collect();
    match request.x {
        XRule::Ignore => {}
        XRule::Any if x.is_empty() => return Err(AuthError::MissingX),
        XRule::Any => {}
        XRule::Required(_) if x.is_empty() => return Err(AuthError::MissingX),
        XRule::Required(hash) if !x.contains(&hash) => return Err(AuthError::WrongX),
        XRule::Required(_) => {}
        XRule::IfScoped(hash) if !x.is_empty() && !x.contains(&hash) => {
            return Err(AuthError::WrongX);
        }
        XRule::IfScoped(_) => {}
    }
    Ok(Authorization {
        pubkey: Pubkey(event.pubkey.to_bytes()),
        verb,
        expiration,
        x,
        event_id: event.id.to_hex(),
    })
}

/// [`parse_authorization`] then [`check_authorization`].
pub fn authorize(
    header: &str,
    request: &AuthRequest,
    now: u64,
    rules: &AuthRules,
) -> Result<Authorization, AuthError> {
    check_authorization(&parse_authorization(header)?, request, now, rules)
}

/// The host name of a `server` tag or a configured server, lower case, without a trailing dot:
/// `cdn.example.com`, `cdn.example.com:8082` and `https://CDN.example.com:8082/path` all give
/// `cdn.example.com`; `[::1]:80` gives `::1`. `None` when nothing host-like is left.
pub fn server_host(text: &str) -> Option<String> {
    let text = text.trim();
    let rest = match text.find("://") {
        Some(at) => &text[at + 3..],
        None => text,
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = if let Some(bracketed) = authority.strip_prefix('[') {
        bracketed.split_once(']')?.0
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
            _ => authority,
        }
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

/// At most 120 characters of a parser's message, for `X-Reason`.
fn short(text: &str) -> String {
    text.chars().take(120).collect()
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
