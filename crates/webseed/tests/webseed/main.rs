//! swarmgate-webseed end to end: the server on 127.0.0.1:0 against reqwest and raw HTTP (every
//! range edge case, HEAD, ETags, path tricks), the client against that server and against
//! servers that lie, and properties of the pure core.

mod client;
mod props;
mod server;
mod support;
