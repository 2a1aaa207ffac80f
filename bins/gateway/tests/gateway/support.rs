//! The gateway binary under test, started on port 0 of loopback (the ports it bound read from
//! its `--addresses-file`) in a test's own folder and SIGKILLed when dropped; the two fixture
//! files; HTTP helpers that check the API's answers. Every wait is bounded.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};
use serde_json::Value;
use swarmgate_testkit::programs::{hex_encode, send_signal, sha256, write_random};

pub(crate) const MIB: u64 = 1024 * 1024;
/// The longest one request (an upload or a download of 300 MB included) may take.
pub(crate) const REQUEST_LIMIT: Duration = Duration::from_secs(300);

/// A file the tests upload: deterministic bytes on disk, with their SHA-256.
#[derive(Debug)]
pub(crate) struct Fixture {
    pub(crate) path: PathBuf,
    pub(crate) size: u64,
    pub(crate) sha256: String,
}

impl Fixture {
    /// `length` bytes from `offset`.
    pub(crate) fn bytes(&self, offset: u64, length: u64) -> Vec<u8> {
        let mut file = File::open(&self.path).expect("open the fixture");
        file.seek(SeekFrom::Start(offset))
            .expect("seek the fixture");
        let mut out = vec![0; usize::try_from(length).expect("a small range")];
        file.read_exact(&mut out).expect("read the fixture");
        out
    }
}

/// Made once per fixture and kept under Cargo's temporary folder for this test target: written
/// to a temporary name and renamed, so that test processes running at once never see half a
/// file; reused when present with the right size (the bytes are a function of the seed).
fn fixture(cell: &'static OnceLock<Fixture>, name: &str, size: u64, seed: u64) -> &'static Fixture {
    cell.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gateway-fixtures");
        let path = dir.join(format!("{name}-{seed}-{size}.bin"));
        let present = std::fs::metadata(&path).is_ok_and(|m| m.len() == size);
        if !present {
            let partial = dir.join(format!("{name}.{}.partial", std::process::id()));
            write_random(&partial, usize::try_from(size).expect("fits"), seed);
            std::fs::rename(&partial, &path).expect("rename the fixture into place");
        }
        Fixture {
            sha256: hex_encode(&sha256(&path)),
            path,
            size,
        }
    })
}

/// 5 MiB and a bit: stored as one blob, three 2 MiB pieces (the last one partial).
pub(crate) fn small() -> &'static Fixture {
    static SMALL: OnceLock<Fixture> = OnceLock::new();
    fixture(&SMALL, "small", 5 * MIB + 12_345, 5)
}

/// 300 MiB and a bit: stored as 2 MiB chunks (over the 100 MiB blob threshold), 151 pieces.
pub(crate) fn big() -> &'static Fixture {
    static BIG: OnceLock<Fixture> = OnceLock::new();
    fixture(&BIG, "big", 300 * MIB + 777, 300)
}

/// A blocking HTTP client for the tests: no proxy, no redirects, requests bounded.
pub(crate) fn client() -> Client {
    Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_LIMIT)
        .build()
        .expect("an HTTP client")
}

/// A `gateway` process on loopback ports it chose, SIGKILLed when dropped.
pub(crate) struct Gateway {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`: the API, the HTTP tracker and the web seed.
    pub(crate) url: String,
    /// The UDP tracker.
    pub(crate) udp: SocketAddr,
    /// The peer listener.
    pub(crate) peer: SocketAddr,
    /// The DHT node, unless started with `--no-dht`.
    pub(crate) dht: Option<SocketAddr>,
    /// `http://127.0.0.1:PORT` of the Blossom server, unless started with `--no-blossom`.
    pub(crate) blossom: Option<String>,
    /// The data folder.
    pub(crate) data: PathBuf,
    /// Its log (stdout and stderr).
    pub(crate) log: PathBuf,
    extra: Vec<String>,
    pub(crate) http: Client,
}

impl Gateway {
    /// Starts `gateway --data-dir data …` with `extra` flags on port 0 everywhere, reads the
    /// bound addresses from its `--addresses-file`, and waits until GET /api/health answers
    /// (at most 30 s) and the start line is logged. Logs go to a file beside `data`.
    pub(crate) fn start(data: &Path, extra: &[&str]) -> Gateway {
        let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        Gateway::try_start(data, &extra)
            .unwrap_or_else(|failure| panic!("the gateway did not start:\n{failure}"))
    }

    /// Starts another gateway on the same folder and flags, on new ports.
    pub(crate) fn restart(&self) -> Gateway {
        let extra: Vec<&str> = self.extra.iter().map(String::as_str).collect();
        Gateway::start(&self.data, &extra)
    }

    /// The gateway's process id (while it runs).
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn try_start(data: &Path, extra: &[String]) -> Result<Gateway, String> {
        static STARTS: AtomicUsize = AtomicUsize::new(0);
        let run = format!(
            "{}-{}",
            std::process::id(),
            STARTS.fetch_add(1, Ordering::Relaxed)
        );
        let parent = data.parent().expect("the data folder has a parent");
        let log = parent.join(format!("gateway-{run}.log"));
        let addresses = parent.join(format!("addresses-{run}.json"));
        let out = File::create(&log).expect("create the log file");
        let err = out.try_clone().expect("clone the log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_gateway"));
        // Only the flags set the gateway under test: no SWARMGATE_* variable of the test's own
        // environment (a developer's settings) reaches it.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("SWARMGATE_") {
                command.env_remove(name);
            }
        }
        let mut child = command
            .arg("--data-dir")
            .arg(data)
            .args(["--http-addr", "127.0.0.1:0"])
            .args(["--udp-tracker-addr", "127.0.0.1:0"])
            .args(["--peer-addr", "127.0.0.1:0"])
            // A DHT node on loopback that joins nobody unless a test says so (no public router).
            .args(["--dht-addr", "127.0.0.1:0", "--dht-bootstrap="])
            .args(["--blossom-addr", "127.0.0.1:0"])
            .arg("--addresses-file")
            .arg(&addresses)
            .args(extra)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start the gateway");
        let deadline = Instant::now() + Duration::from_secs(30);
        let bound = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return Err(format!("exited with {status}:\n{}", tail(&log)));
            }
            if let Ok(text) = std::fs::read_to_string(&addresses) {
                break serde_json::from_str::<Value>(&text).expect("the addresses are JSON");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("no addresses file within 30 s:\n{}", tail(&log)));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let address = |key: &str| -> SocketAddr {
            bound[key]
                .as_str()
                .and_then(|a| a.parse().ok())
                .unwrap_or_else(|| panic!("no {key} address in {bound}"))
        };
        let (http_addr, udp, peer) = (address("http"), address("udp_tracker"), address("peers"));
        let dht = bound["dht"].as_str().and_then(|a| a.parse().ok());
        let blossom = bound["blossom"].as_str().map(|a| format!("http://{a}"));
        let url = format!("http://{http_addr}");
        let http_client = client();
        loop {
            let health = http_client
                .get(format!("{url}/api/health"))
                .timeout(Duration::from_secs(5))
                .send();
            if health.is_ok_and(|r| r.status() == StatusCode::OK) {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("no healthy answer within 30 s:\n{}", tail(&log)));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let gateway = Gateway {
            child: Some(child),
            url,
            udp,
            peer,
            dht,
            blossom,
            data: data.to_path_buf(),
            log,
            extra: extra.to_vec(),
            http: http_client,
        };
        gateway.wait_log(&format!(
            "HTTP API, tracker and web seed on http://{http_addr}"
        ));
        Ok(gateway)
    }

    /// Waits (at most 10 s) until the log has a line containing `needle`; returns that line.
    pub(crate) fn wait_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            if let Some(line) = text.lines().find(|l| l.contains(needle)) {
                return line.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "no log line with {needle:?}:\n{}",
                tail(&self.log)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The last lines of the log, for failure messages.
    pub(crate) fn tail(&self) -> String {
        tail(&self.log)
    }

    /// SIGKILL, at once (as a crash or the OOM killer would), and reap.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL the gateway");
            child.wait().expect("reap the gateway");
        }
    }

    /// SIGTERM, then the exit status within `limit` (else SIGKILL and panic).
    pub(crate) fn terminate(&mut self, limit: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("the gateway is running");
        send_signal(&child, "-TERM");
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("still running {limit:?} after SIGTERM:\n{}", self.tail());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `self.url` + `path`.
    pub(crate) fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// GET `path`.
    pub(crate) fn get(&self, path: &str) -> Response {
        self.http
            .get(self.at(path))
            .send()
            .unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", self.tail()))
    }

    /// GET `path` as JSON, asserting the status.
    pub(crate) fn get_json(&self, path: &str, status: StatusCode) -> Value {
        let response = self.get(path);
        json_of(response, status, &format!("GET {path}"))
    }

    /// `POST /api/upload` of `fixture`'s file as a raw body (`X-Filename`, Content-Length).
    pub(crate) fn upload_raw(&self, fixture: &Fixture, name: &str) -> Response {
        let file = File::open(&fixture.path).expect("open the fixture");
        self.http
            .post(self.at("/api/upload"))
            .header("X-Filename", name)
            .header("Content-Type", "application/octet-stream")
            .body(reqwest::blocking::Body::sized(file, fixture.size))
            .send()
            .unwrap_or_else(|e| panic!("raw upload of {name}: {e}\n{}", self.tail()))
    }

    /// `POST /api/upload` of `fixture`'s file as the multipart field `file`, streamed.
    pub(crate) fn upload_multipart(&self, fixture: &Fixture, name: &str) -> Response {
        let file = File::open(&fixture.path).expect("open the fixture");
        let part = reqwest::blocking::multipart::Part::reader_with_length(file, fixture.size)
            .file_name(name.to_owned())
            .mime_str("application/octet-stream")
            .expect("a media type");
        let form = reqwest::blocking::multipart::Form::new()
            .text("comment", "uploaded by the gateway's end-to-end tests")
            .part("file", part);
        self.http
            .post(self.at("/api/upload"))
            .multipart(form)
            .send()
            .unwrap_or_else(|e| panic!("multipart upload of {name}: {e}\n{}", self.tail()))
    }

    /// The SHA-256 (hex) of GET `path`'s body, asserting 200 and the length.
    pub(crate) fn download_sha256(&self, path: &str, length: u64) -> String {
        let mut response = self.get(path);
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        assert_eq!(response.content_length(), Some(length), "GET {path}");
        let digest = swarmgate_testkit::programs::sha256_reader(&mut response)
            .unwrap_or_else(|e| panic!("reading GET {path}: {e}\n{}", self.tail()));
        hex_encode(&digest)
    }

    /// Asserts the download API returns `fixture` byte for byte (the gateway still serves).
    pub(crate) fn assert_serves(&self, fixture: &Fixture) {
        let path = format!("/api/download/{}", fixture.sha256);
        assert_eq!(
            self.download_sha256(&path, fixture.size),
            fixture.sha256,
            "GET {path}"
        );
    }

    /// `GET /api/stats`.
    pub(crate) fn stats(&self) -> Value {
        self.get_json("/api/stats", StatusCode::OK)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The last 40 lines of a log file.
pub(crate) fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// The JSON body of `response`, asserting its status and media type.
pub(crate) fn json_of(response: Response, status: StatusCode, what: &str) -> Value {
    let got = response.status();
    let media = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = response.text().unwrap_or_default();
    assert_eq!(got, status, "{what}: {text}");
    assert!(
        media.starts_with("application/json"),
        "{what}: {media} {text}"
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: {e}: {text}"))
}

/// Asserts `response` is the API's JSON error `{"error": "...", "code": code}` with `status`;
/// returns its message.
pub(crate) fn assert_error(
    response: Response,
    status: StatusCode,
    code: &str,
    what: &str,
) -> String {
    let body = json_of(response, status, what);
    let object = body.as_object().expect("a JSON object");
    assert_eq!(object.len(), 2, "{what}: exactly error and code: {body}");
    assert_eq!(body["code"], code, "{what}: {body}");
    let message = body["error"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{what}: a message: {body}");
    message.to_owned()
}

/// A fresh folder for one test: `data/` inside it is the gateway's.
pub(crate) fn workspace() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::Builder::new()
        .prefix("gateway-e2e-")
        .tempdir()
        .expect("a temporary folder");
    let data = tmp.path().join("data");
    (tmp, data)
}

/// Bytes of the regular files under `dir` (0 when it does not exist).
pub(crate) fn bytes_under(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.map_while(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                total += entry.metadata().map(|m| m.len()).unwrap_or(0);
            }
        }
    }
    total
}

/// Entries directly under `dir` (none when it does not exist).
pub(crate) fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| entries.map_while(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default()
}
