//! The process's stop signal: SIGINT (Ctrl-C) or SIGTERM (what `kill`, systemd and container
//! runtimes send), whichever comes first.

/// Resolves on SIGINT or SIGTERM. Where no signal handler can be installed it never resolves
/// (the process is then stopped some other way), rather than resolve at once and stop a server
/// that was just started.
pub async fn wait_for_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = interrupt => {}
                _ = terminate.recv() => {}
            }
            return;
        }
    }
    if interrupt.await.is_err() {
        std::future::pending::<()>().await;
    }
}
