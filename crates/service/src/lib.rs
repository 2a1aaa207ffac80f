//! Network services under one shutdown: a shutdown signal every service waits on, SIGINT/SIGTERM
//! as that signal, and a supervisor that stops them all together.
//!
//! A server in this workspace is a future `run(listener, shutdown)` (mini-redis's shape): it
//! serves until its [`Shutdown`] resolves, then finishes what is in flight and returns. A
//! process with several such services (the gateway: HTTP API, UDP tracker, seeder, ...) starts
//! each under one [`Supervisor`], which owns the one [`ShutdownTrigger`]:
//!
//! - [`Supervisor::spawn`] starts a named service with a clone of the shutdown signal;
//! - [`Supervisor::run_until`] waits for the process's stop signal (usually
//!   [`wait_for_signal`]) or for any service to end, whichever is first, then stops them all:
//!   it triggers the shutdown, gives the services a grace period to finish in-flight work, and
//!   aborts whatever is still running after it;
//! - a service that fails, panics or returns before the shutdown is a failure of the whole,
//!   reported as a [`ServiceError`] naming it (a server that stops serving by itself is a bug,
//!   not a success).
//!
//! One type for shutdown, rather than a channel per service, means a new service cannot forget
//! to stop, and a test can run several supervisors side by side.
//!
//! ```
//! use std::time::Duration;
//! use swarmgate_service::{Shutdown, Supervisor};
//!
//! async fn serve(mut shutdown: Shutdown) -> Result<(), std::io::Error> {
//!     shutdown.wait().await; // a real server accepts and answers until then
//!     Ok(())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), swarmgate_service::ServiceError> {
//! let mut services = Supervisor::new();
//! services.spawn("api", serve(services.shutdown()));
//! services.spawn("tracker", serve(services.shutdown()));
//! // The gateway passes `swarmgate_service::wait_for_signal()` here.
//! services
//!     .run_until(tokio::time::sleep(Duration::from_millis(10)), Duration::from_secs(5))
//!     .await
//! # }
//! ```

mod shutdown;
mod signal;
mod supervisor;

pub use shutdown::{Shutdown, ShutdownTrigger};
pub use signal::{survive_file_size_limit, wait_for_signal};
pub use supervisor::{ServiceError, Supervisor};
