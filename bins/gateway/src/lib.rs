//! The Swarmgate gateway: upload a file once, then fetch it from any BitTorrent client and any
//! browser.
//!
//! The gateway composes the workspace's crates into one server, with nothing protocol-specific
//! of its own: swarmgate-storage keeps the files (SQLite metadata, content as blobs or 2 MiB
//! chunks, a verifying piece cache), swarmgate-tracker tracks them (HTTP on the API port, UDP
//! beside it), swarmgate-session seeds them over the peer wire protocol from one listener,
//! and swarmgate-webseed serves them to BEP 19 clients and to the download API. A stored file's
//! torrent is v1, single-file, with 2 MiB pieces (one piece per chunk), its announce this
//! tracker and its `url-list` this web seed.
//!
//! The entry type is [`Gateway`]: [`Gateway::start`] with a [`Config`] (from [`Settings`], the
//! command line, environment and TOML file), then [`Gateway::run_until`] or
//! [`Gateway::shutdown`]. Tests start several side by side with [`Config::loopback`].
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use swarmgate_gateway::{Config, Gateway};
//!
//! let gateway = Gateway::start(Config::loopback("data")).await?;
//! println!("serving on {}", gateway.public_url());
//! gateway.run_until(async { tokio::signal::ctrl_c().await.unwrap() }).await
//! # }
//! ```

mod api;
mod app;
mod catalog;
mod config;
mod limits;
mod links;
mod lock;
mod metrics;
mod server;
mod serving;
mod state;
mod tracking;
mod webseed_source;

pub use app::Gateway;
pub use catalog::Loaded;
pub use config::{Config, Settings, parse_size};
pub use state::Bound;
