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

/// Keeps the process alive when a write passes its file size limit (`RLIMIT_FSIZE`, systemd's
/// `LimitFSIZE=`): the kernel's default for `SIGXFSZ` kills the process, while with a handler
/// installed the write fails with `EFBIG`, which the stores report as a full disk (an upload
/// answered 507, a download stopped with a message), and everything else goes on. The handler
/// is tokio's, which stays installed for the life of the process; call this inside a runtime.
/// Where signals do not exist (or the handler cannot be installed) it does nothing.
pub fn survive_file_size_limit() {
    #[cfg(target_os = "linux")]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Err(error) = signal(SignalKind::from_raw(libc::SIGXFSZ)) {
            tracing::warn!(%error, "SIGXFSZ: a write past the file size limit will end the process");
        }
    }
}
