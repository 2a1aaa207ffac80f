//! A third-party program run by an interop test (no BEP): started with its output read line by
//! line on a thread, killed when dropped, every wait bounded.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A child process, SIGKILLed and reaped when dropped, with one of its outputs as lines.
///
/// [`Running::spawn`] reads stdout (stdin piped, stderr inherited): the protocol of the
/// python3-libtorrent peer. [`Running::spawn_stderr`] reads stderr (stdin and stdout are
/// /dev/null): where aria2c, transmission-cli and most servers log.
#[derive(Debug)]
pub struct Running {
    /// The process.
    pub child: Child,
    /// Its stdin, when piped ([`Running::spawn`]); closed first on drop.
    pub stdin: Option<ChildStdin>,
    /// Its output, one message a line, until it ends.
    pub lines: mpsc::Receiver<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Lines from `reader`, one message each, until it ends or the receiver is gone.
fn read_lines(reader: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    lines
}

impl Running {
    /// Starts `command` reading its stdout lines, with stdin piped and stderr inherited.
    ///
    /// # Panics
    /// If the program cannot be started.
    pub fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {command:?}: {e}"));
        let stdin = child.stdin.take();
        let lines = read_lines(child.stdout.take().expect("stdout is piped"));
        Self {
            child,
            stdin,
            lines,
        }
    }

    /// Starts `command` reading its stderr lines (stdout and stdin are /dev/null).
    ///
    /// # Panics
    /// If the program cannot be started.
    pub fn spawn_stderr(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {command:?}: {e}"));
        let lines = read_lines(child.stderr.take().expect("stderr is piped"));
        Self {
            child,
            stdin: None,
            lines,
        }
    }

    /// The next line starting with `prefix`, within `timeout`.
    ///
    /// # Panics
    /// On timeout, or if a line before it starts with `TIMEOUT` (the libtorrent peer gave up).
    pub fn expect_line(&mut self, prefix: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(line) => assert!(!line.starts_with("TIMEOUT"), "peer gave up: {line}"),
                Err(_) => panic!("no `{prefix}` line within {timeout:?}"),
            }
        }
    }

    /// Every line up to and including the first that contains `needle`, within `timeout`.
    ///
    /// # Panics
    /// On timeout, with the last lines seen.
    pub fn lines_until(&mut self, needle: &str, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(needle);
                    seen.push(line);
                    if found {
                        return seen;
                    }
                }
                Err(_) => panic!(
                    "no line with `{needle}` within {timeout:?}; the last lines:\n{}",
                    seen[seen.len().saturating_sub(20)..].join("\n")
                ),
            }
        }
    }

    /// Every line already read, without waiting.
    pub fn drain_lines(&mut self) -> Vec<String> {
        self.lines.try_iter().collect()
    }

    /// Writes one line to the process's stdin.
    ///
    /// # Panics
    /// If stdin is not piped or the process closed it.
    pub fn write_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is piped");
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .expect("write to the process's stdin");
    }

    /// Waits for the process to exit, at most `timeout`.
    ///
    /// # Panics
    /// If it is still running then (it is killed first).
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited() {
                return status;
            }
            if Instant::now() >= deadline {
                self.kill();
                panic!("still running after {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The exit status if the process has exited, without waiting.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// Sends SIGINT (as Ctrl-C would) and waits for the exit, at most `timeout`.
    pub fn interrupt(&mut self, timeout: Duration) -> ExitStatus {
        self.signal("-INT", timeout)
    }

    /// Sends `signal` (`-INT`, `-TERM`) and waits for the exit, at most `timeout`.
    ///
    /// # Panics
    /// If `kill` fails or the process outlives `timeout`.
    pub fn signal(&mut self, signal: &str, timeout: Duration) -> ExitStatus {
        send_signal(&self.child, signal);
        self.wait_exit(timeout)
    }

    /// Kills the process at once (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `signal` (`-INT`, `-TERM`, …) to `child` with kill(1).
///
/// # Panics
/// If kill(1) cannot run or fails (the process is gone).
pub fn send_signal(child: &Child, signal: &str) {
    let sent = Command::new("kill")
        .arg(signal)
        .arg(child.id().to_string())
        .status()
        .expect("run kill");
    assert!(sent.success(), "kill {signal} {} failed", child.id());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(script: &str) -> Command {
        let mut command = Command::new("/bin/sh");
        command.arg("-c").arg(script);
        command
    }

    #[test]
    fn lines_come_in_order_and_stdin_reaches_the_program() {
        let mut echo = Running::spawn(shell("echo one; read x; echo got $x; exit 3"));
        assert_eq!(echo.expect_line("one", Duration::from_secs(10)), "one");
        echo.write_line("two");
        assert_eq!(
            echo.lines_until("got", Duration::from_secs(10)),
            ["got two"]
        );
        assert_eq!(echo.wait_exit(Duration::from_secs(10)).code(), Some(3));
    }

    #[test]
    fn stderr_is_read_and_a_signal_ends_the_program() {
        let mut sleeper = Running::spawn_stderr(shell("echo ready >&2; exec sleep 30"));
        assert_eq!(
            sleeper.lines_until("ready", Duration::from_secs(10)),
            ["ready"]
        );
        assert!(sleeper.exited().is_none());
        let status = sleeper.signal("-TERM", Duration::from_secs(10));
        assert!(!status.success());
        assert!(sleeper.drain_lines().is_empty());
    }

    #[test]
    #[should_panic(expected = "still running")]
    fn a_bounded_wait_kills_and_fails() {
        let mut sleeper = Running::spawn_stderr(shell("exec sleep 30"));
        sleeper.wait_exit(Duration::from_millis(100));
    }
}
