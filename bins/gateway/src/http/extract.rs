//! Extractors that refuse with an [`ApiError`] (JSON `{"error", "code"}`) where axum's own
//! answer plain text, so that a handler's signature says what its client gets back.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::ApiError;

/// A query string parsed as `T`; one that does not parse is a 400 `invalid_query`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| ApiQuery(value))
            .map_err(|rejection| ApiError::bad_request("invalid_query", rejection.body_text()))
    }
}

/// `?offset=&limit=` of a paged list (`/api/files`, `/api/discovered`): `limit` 1 to 1000,
/// default 100; anything else is a 400 (`invalid_query`, `invalid_limit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Page {
    /// Items to skip.
    pub offset: u64,
    /// Items to return, at most.
    pub limit: u32,
}

/// [`Page`] as the query string gives it, before the limit is checked.
#[derive(serde::Deserialize)]
struct PageQuery {
    #[serde(default)]
    offset: u64,
    #[serde(default = "default_limit")]
    limit: u32,
}

fn default_limit() -> u32 {
    100
}

impl<S: Send + Sync> FromRequestParts<S> for Page {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ApiQuery(PageQuery { offset, limit }) =
            ApiQuery::from_request_parts(parts, state).await?;
        if !(1..=1000).contains(&limit) {
            return Err(ApiError::bad_request(
                "invalid_limit",
                "limit must be between 1 and 1000",
            ));
        }
        Ok(Page { offset, limit })
    }
}
