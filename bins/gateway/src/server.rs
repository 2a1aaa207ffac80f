//! The one HTTP router of the gateway's port: API, tracker and web seed, behind the guard
//! layers.

use axum::Router;

use crate::api;
use crate::state::Shared;

/// Every HTTP route of the gateway, with CORS, security headers, limits and counters.
pub(crate) fn router(state: Shared) -> Router {
    let tracker = crate::tracking::routes().with_state(state.clone());
    let routes = api::routes(state.clone()).merge(tracker);
    api::security_layers(routes, state)
}
