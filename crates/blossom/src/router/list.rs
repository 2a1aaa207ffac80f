//! BUD-12 `GET /list/<pubkey>` (newest first, `cursor` and `limit`, deprecated `since` and
//! `until`) and `DELETE /<sha256>` (one owner's claim; the bytes go with the last).
//!
//! `DELETE` always needs a `delete` token whose `x` names the blob, whatever the policy says,
//! because it acts for an owner: a token for several `x` still deletes only the blob in the
//! path (BUD-12: no bulk deletes). Its answer is 200 with `{"sha256", "deleted"}`, `deleted`
//! saying whether the bytes went. The allow-list does not apply: an owner taken off it may
//! still withdraw what it stored.

use axum::Json;
use axum::extract::{Path, Request};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{Failure, Shared, client_ip};
use crate::auth::{AuthRequest, Verb, XRule};
use crate::descriptor::{BlobDescriptor, list_page, parse_blob_segment, parse_list_request};
use crate::store::{BlobStore, Disowned};

pub(crate) async fn list<S: BlobStore>(
    state: Shared<S>,
    Path(pubkey): Path<String>,
    request: Request,
) -> Result<Json<Vec<BlobDescriptor>>, Failure> {
    let state = state.0;
    let (pubkey, query) = parse_list_request(&pubkey, request.uri().query().unwrap_or(""))?;
    if state.config.auth.list {
        let ask = AuthRequest {
            verb: Verb::List,
            x: XRule::Ignore,
        };
        let ip = client_ip(request.extensions());
        state.authorize(request.headers(), ip, true, false, ask)?;
    }
    let limit = query
        .limit
        .unwrap_or(state.config.list_default_limit)
        .min(state.config.list_max_limit);
    let blobs = state.blocking(move |store| store.list(&pubkey)).await?;
    let base = &state.config.public_base;
    let descriptors = list_page(&blobs, &query, limit)
        .into_iter()
        .map(|blob| BlobDescriptor::from_blob(blob, base))
        .collect();
    Ok(Json(descriptors))
}

pub(crate) async fn delete<S: BlobStore>(
    state: Shared<S>,
    Path(segment): Path<String>,
    request: Request,
) -> Result<Json<Value>, Failure> {
    let state = state.0;
    let (sha256, _) = parse_blob_segment(&segment)?;
    let ask = AuthRequest {
        verb: Verb::Delete,
        x: XRule::Required(sha256),
    };
    let ip = client_ip(request.extensions());
    let auth = state
        .authorize(request.headers(), ip, true, false, ask)?
        .ok_or_else(|| Failure::new(StatusCode::UNAUTHORIZED, "authorization required"))?;
    let owner = auth.pubkey;
    let disowned = state
        .blocking(move |store| store.disown(&sha256, &owner))
        .await?;
    let deleted = match disowned {
        Disowned::NotOwner => {
            return Err(Failure::new(
                StatusCode::FORBIDDEN,
                "this pubkey does not own the blob",
            ));
        }
        Disowned::Removed => false,
        Disowned::Deleted => true,
    };
    Ok(Json(
        json!({ "sha256": sha256.to_hex(), "deleted": deleted }),
    ))
}
