//! The supervisor: named services on one runtime under one shutdown, stopped together.
//!
//! Call order: [`Supervisor::new`], then [`Supervisor::spawn`] once per service (each takes a
//! [`Shutdown`] from [`Supervisor::shutdown`]), then exactly one of [`Supervisor::run_until`] (a
//! long-running process) or [`Supervisor::stop`] (stop now, e.g. a test or a failed start).
//! Both trigger the shutdown, wait at most the grace period for every service to return, abort
//! the rest, and report the first failure.

use std::collections::HashMap;
use std::error::Error;
use std::time::Duration;

use tokio::task::{Id, JoinError, JoinSet};

use crate::shutdown::{Shutdown, ShutdownTrigger};

/// A service's error, boxed: services of one process fail in their own ways.
type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// Why the services stopped other than by the shutdown.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A service returned an error: the process should exit with it (its cause is in `source`).
    #[error("the {name} service failed: {source}")]
    Failed {
        /// The service.
        name: &'static str,
        /// What it returned.
        source: BoxError,
    },
    /// A service panicked: a bug; its message was printed by the panic hook.
    #[error("the {name} service panicked")]
    Panicked {
        /// The service.
        name: &'static str,
    },
    /// A service returned before the shutdown without an error: a server that stops serving
    /// by itself (its listener closed) is as broken as one that failed.
    #[error("the {name} service stopped by itself")]
    StoppedEarly {
        /// The service.
        name: &'static str,
    },
}

/// Named services under one shutdown; see the module docs.
#[derive(Debug)]
pub struct Supervisor {
    trigger: ShutdownTrigger,
    shutdown: Shutdown,
    tasks: JoinSet<Result<(), BoxError>>,
    names: HashMap<Id, &'static str>,
}

impl Default for Supervisor {
    fn default() -> Self {
        Self::new()
    }
}

impl Supervisor {
    /// No services yet, the shutdown not triggered.
    pub fn new() -> Self {
        let (trigger, shutdown) = Shutdown::new();
        Self {
            trigger,
            shutdown,
            tasks: JoinSet::new(),
            names: HashMap::new(),
        }
    }

    /// The shutdown signal to hand to a service.
    pub fn shutdown(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// Starts `service`, a future that serves until its shutdown resolves and then returns.
    pub fn spawn<F, E>(&mut self, name: &'static str, service: F)
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let handle = self
            .tasks
            .spawn(async move { service.await.map_err(Into::into) });
        self.names.insert(handle.id(), name);
    }

    /// How many services are running.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// No service is running.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Serves until `stop` resolves or a service ends, whichever is first; then stops every
    /// service (see [`stop`](Self::stop)). A service that ended first is the error returned.
    pub async fn run_until(
        mut self,
        stop: impl Future<Output = ()>,
        grace: Duration,
    ) -> Result<(), ServiceError> {
        if self.tasks.is_empty() {
            stop.await;
            return Ok(());
        }
        let first = tokio::select! {
            () = stop => None,
            Some(joined) = self.tasks.join_next_with_id() => Some(joined),
        };
        let early = first.map(|joined| match self.outcome(joined) {
            Ok(name) => Err(ServiceError::StoppedEarly { name }),
            Err(error) => Err(error),
        });
        let stopped = self.stop(grace).await;
        early.unwrap_or(Ok(())).and(stopped)
    }

    /// Triggers the shutdown, waits at most `grace` for every service to return, aborts those
    /// still running after it, and returns the first failure.
    pub async fn stop(mut self, grace: Duration) -> Result<(), ServiceError> {
        self.trigger.trigger();
        let deadline = tokio::time::Instant::now() + grace;
        let mut result = Ok(());
        let mut aborted = false;
        loop {
            let joined = if aborted {
                self.tasks.join_next_with_id().await
            } else {
                match tokio::time::timeout_at(deadline, self.tasks.join_next_with_id()).await {
                    Ok(joined) => joined,
                    Err(_) => {
                        tracing::warn!(
                            services = self.tasks.len(),
                            "still running {grace:?} after the shutdown: dropping their work"
                        );
                        self.tasks.abort_all();
                        aborted = true;
                        continue;
                    }
                }
            };
            let Some(joined) = joined else { break };
            if matches!(&joined, Err(error) if error.is_cancelled()) {
                continue;
            }
            if let Err(error) = self.outcome(joined) {
                if result.is_ok() {
                    result = Err(error);
                }
            }
        }
        result
    }
}

impl Supervisor {
    /// A joined service: its name when it returned `Ok`, else why not.
    fn outcome(
        &self,
        joined: Result<(Id, Result<(), BoxError>), JoinError>,
    ) -> Result<&'static str, ServiceError> {
        let name = |id: &Id| self.names.get(id).copied().unwrap_or("unnamed");
        match joined {
            Ok((id, Ok(()))) => Ok(name(&id)),
            Ok((id, Err(source))) => Err(ServiceError::Failed {
                name: name(&id),
                source,
            }),
            Err(error) => Err(ServiceError::Panicked {
                name: name(&error.id()),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    async fn serve(mut shutdown: Shutdown, stopped: Arc<AtomicUsize>) -> Result<(), String> {
        shutdown.wait().await;
        stopped.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    #[tokio::test]
    async fn the_stop_signal_stops_every_service_cleanly() {
        let stopped = Arc::new(AtomicUsize::new(0));
        let mut services = Supervisor::new();
        for name in ["a", "b", "c"] {
            services.spawn(name, serve(services.shutdown(), Arc::clone(&stopped)));
        }
        assert_eq!(services.len(), 3);
        let result = services
            .run_until(std::future::ready(()), Duration::from_secs(5))
            .await;
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(stopped.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_failing_service_stops_the_others_and_is_named() {
        let stopped = Arc::new(AtomicUsize::new(0));
        let mut services = Supervisor::new();
        services.spawn("api", serve(services.shutdown(), Arc::clone(&stopped)));
        services.spawn("udp", async { Err::<(), _>("socket closed".to_owned()) });
        let error = services
            .run_until(std::future::pending(), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(error.to_string(), "the udp service failed: socket closed");
        assert_eq!(stopped.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn returning_early_is_a_failure_and_so_is_a_panic() {
        let mut services = Supervisor::new();
        services.spawn("seeder", async { Ok::<(), String>(()) });
        let error = services
            .run_until(std::future::pending(), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(matches!(
            error,
            ServiceError::StoppedEarly { name: "seeder" }
        ));

        let mut services = Supervisor::new();
        services.spawn("bug", async {
            panic!("deliberate");
            #[allow(unreachable_code)]
            Ok::<(), String>(())
        });
        let error = services
            .run_until(std::future::pending(), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(matches!(error, ServiceError::Panicked { name: "bug" }));
    }

    #[tokio::test(start_paused = true)]
    async fn work_still_running_after_the_grace_period_is_aborted() {
        let mut services = Supervisor::new();
        services.spawn("stuck", async {
            std::future::pending::<()>().await;
            Ok::<(), String>(())
        });
        let stopped = Arc::new(AtomicUsize::new(0));
        services.spawn("polite", serve(services.shutdown(), Arc::clone(&stopped)));
        let result = services.stop(Duration::from_secs(30)).await;
        assert!(
            result.is_ok(),
            "an aborted service is not a failure: {result:?}"
        );
        assert_eq!(stopped.load(Ordering::SeqCst), 1);
    }
}
