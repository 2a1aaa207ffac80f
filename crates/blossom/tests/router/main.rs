//! Black-box tests of the Blossom router on loopback: every status code of the BUD tables
//! that applies to this server, the authorization forgeries, CORS, paging, ownership, mirrors,
//! reports and the bad-auth limiter.

mod auth;
mod get;
mod helpers;
mod limits;
mod list;
mod mirror;
mod report;
mod upload;
