//! One fetch of a mirrored file: the torrent's metadata (see [`super::metadata`]: the magnet's
//! `.torrent` URL or the swarm, verified against the info-hash), the pieces from the swarm and the announced web seeds (BEP 19) through
//! swarmgate-session's `run` (every piece SHA-1-verified) into a private temporary folder, then,
//! on a blocking thread, the whole file hashed against the announced sha256 and size and only
//! then published.
//!
//! The temporary folder (`DATA_DIR/mirror-tmp/<info-hash>-<sha256>/`) is removed whatever
//! happens: by the blocking step after a download, by [`TempFolder`]'s drop on every other way
//! out, and the whole of `mirror-tmp` is swept when the mirror starts (a crash leaves nothing
//! for long). The download listens on an ephemeral port of the peer address's IP: trackers
//! refuse an announce of port 0, and the announcing gateway's seeder dials leechers back.

use std::fs::File;
use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::Digest;
use swarmgate_catalog::{Catalog, CatalogError, PublishRequest};
use swarmgate_core::{InfoHash, InfoHashV1, PeerId, Sha256};
use swarmgate_metainfo::{Magnet, Torrent};
use swarmgate_service::Shutdown;
use swarmgate_session::{MagnetOptions, PieceFetcher, RunConfig, run};
use swarmgate_webseed::WebSeed;
use tokio::net::TcpListener;
use tokio::time::Instant;

use super::MirrorRequest;
use super::metadata::{http_client, is_web, metadata};

/// The longest the metadata may take (within the fetch's own time limit).
const METADATA_TIMEOUT: Duration = Duration::from_secs(120);

/// Why a fetch failed, shaped by what the dispatcher does next.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MirrorError {
    /// The fetched file (or its torrent) is not the announced one: final for this
    /// (sha256, info-hash) pair; nothing was served.
    #[error("not the announced file: {0}")]
    Mismatch(String),
    /// The catalog's own hash of the bytes, at publish, is not the announced one although ours
    /// was (it cannot be: nothing else writes the temporary file): refused before its commit,
    /// nothing kept or served; final.
    #[error("refused at publish: {0}")]
    LateMismatch(String),
    /// Larger than the largest upload: final.
    #[error("{size} bytes is over the largest upload ({limit} bytes)")]
    TooLarge {
        /// The file's size.
        size: u64,
        /// The largest upload.
        limit: u64,
    },
    /// The announcement cannot be fetched as it stands (not a magnet link, a v2-only or
    /// multi-file torrent): final.
    #[error("unusable announcement: {0}")]
    Unusable(String),
    /// Neither the swarm nor the web seeds delivered in time: try again later.
    #[error("not delivered: {0}")]
    Unavailable(String),
    /// A failure here (the disk, the database): try again later.
    #[error("local failure: {0}")]
    Local(String),
    /// The gateway is stopping.
    #[error("the gateway is stopping")]
    Stopped,
}

impl MirrorError {
    /// Whether another attempt may succeed.
    pub(crate) fn is_retryable(&self) -> bool {
        matches!(self, MirrorError::Unavailable(_) | MirrorError::Local(_))
    }
}

/// A file mirrored.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mirrored {
    /// Its size.
    pub(crate) size: u64,
    /// It was stored already (published meanwhile by another way in).
    pub(crate) existing: bool,
    /// The info-hash it is seeded under here.
    pub(crate) info_hash: InfoHashV1,
}

/// What every fetch needs.
#[derive(Debug)]
pub(crate) struct Fetcher {
    pub(crate) catalog: Arc<Catalog>,
    /// `DATA_DIR/mirror-tmp`.
    root: PathBuf,
    timeout: Duration,
    pub(crate) max_size: u64,
    /// The IP downloads listen on.
    listen_ip: IpAddr,
    /// For the .torrent files of exact sources.
    http: reqwest::Client,
}

impl Fetcher {
    /// Fetches into folders under `root`, each fetch for at most `timeout`.
    pub(crate) fn new(
        catalog: Arc<Catalog>,
        root: PathBuf,
        timeout: Duration,
        max_size: u64,
        listen_ip: IpAddr,
    ) -> Fetcher {
        Fetcher {
            catalog,
            root,
            timeout,
            max_size,
            listen_ip,
            http: http_client(),
        }
    }

    /// Removes whatever earlier runs left in the temporary folder and makes it anew, private to
    /// this user. Blocks.
    pub(crate) fn sweep(&self) -> io::Result<()> {
        remove_folder(&self.root)?;
        make_private_folder(&self.root)
    }

    /// Fetches, verifies and publishes `request`'s file; see the module docs.
    pub(crate) async fn fetch(
        self: Arc<Self>,
        request: MirrorRequest,
        shutdown: Shutdown,
    ) -> Result<Mirrored, MirrorError> {
        let deadline = Instant::now() + self.timeout;
        let magnet = Magnet::parse(&request.magnet)
            .map_err(|e| MirrorError::Unusable(format!("the magnet link: {e}")))?;
        match magnet.info_hash {
            InfoHash::V1(hash) | InfoHash::Hybrid(hash, _) if hash == request.info_hash => {}
            InfoHash::V2(_) => return Err(MirrorError::Unusable("a v2-only magnet link".into())),
            other => {
                return Err(MirrorError::Mismatch(format!(
                    "the magnet link names {other}, the announcement {}",
                    request.info_hash
                )));
            }
        }
        let listener = TcpListener::bind(SocketAddr::new(self.listen_ip, 0))
            .await
            .map_err(|e| MirrorError::Local(format!("listening for peers: {e}")))?;
        let port = listener.local_addr().map_or(0, |a| a.port());
        let peer_id = PeerId::swarmgate(random_suffix());
        let options = MagnetOptions {
            peer_id,
            port,
            peers: Vec::new(),
            use_trackers: true,
            dht: None,
            timeout: deadline
                .saturating_duration_since(Instant::now())
                .min(METADATA_TIMEOUT),
        };
        let torrent = metadata(&self.http, &magnet, &request, &options, &shutdown).await?;
        let torrent = Arc::new(self.check_torrent(torrent, &request)?);
        let sources = web_seed_urls(&request, &magnet.web_seeds, torrent.web_seeds());

        let folder = TempFolder::create(self.root.join(format!(
            "{}-{}",
            request.info_hash.to_hex(),
            request.sha256.to_hex()
        )))
        .await?;
        let mut config = download_config(&folder.path, peer_id, &magnet, &torrent, &sources);
        config.listener = Some(listener);
        let mut stopping = shutdown.clone();
        let stop = async move {
            tokio::select! {
                () = stopping.wait() => {}
                () = tokio::time::sleep_until(deadline) => {}
            }
        };
        let summary = run(Arc::clone(&torrent), config, |_| {}, stop)
            .await
            .map_err(|e| MirrorError::Local(format!("the download: {e}")))?;
        if !summary.complete {
            if shutdown.is_triggered() {
                return Err(MirrorError::Stopped);
            }
            return Err(MirrorError::Unavailable(format!(
                "{} of {} pieces in {:?} from {} peers and {} web seeds",
                summary.stats.pieces_have,
                summary.stats.pieces_total,
                self.timeout,
                summary.stats.peers_used,
                sources.len(),
            )));
        }
        let file = folder.path.join(torrent.files()[0].path_buf());
        let name = torrent.name().to_owned();
        let fetcher = Arc::clone(&self);
        tokio::task::spawn_blocking(move || {
            let result = fetcher.verify_and_publish(&file, &request, &name);
            drop(folder);
            result
        })
        .await
        .map_err(|e| MirrorError::Local(format!("the verification task: {e}")))?
    }

    /// The torrent if it is the announced one, single-file, and small enough.
    fn check_torrent(
        &self,
        torrent: Torrent,
        request: &MirrorRequest,
    ) -> Result<Torrent, MirrorError> {
        if torrent.info_hash().v1() != Some(request.info_hash) {
            return Err(MirrorError::Mismatch(format!(
                "the metadata is of {}, the announcement of {}",
                torrent.info_hash(),
                request.info_hash
            )));
        }
        if torrent.files().len() != 1 {
            return Err(MirrorError::Unusable(format!(
                "a torrent of {} files (a gateway stores single files)",
                torrent.files().len()
            )));
        }
        let size = torrent.total_length();
        if size != request.size {
            return Err(MirrorError::Mismatch(format!(
                "the torrent is {size} bytes, the announcement {}",
                request.size
            )));
        }
        if size > self.max_size {
            return Err(MirrorError::TooLarge {
                size,
                limit: self.max_size,
            });
        }
        Ok(torrent)
    }

    /// Hashes the downloaded `file`; publishes it only if it is the announced sha256 and size.
    /// Blocks.
    fn verify_and_publish(
        &self,
        file: &Path,
        request: &MirrorRequest,
        name: &str,
    ) -> Result<Mirrored, MirrorError> {
        let (sha256, size) = hash_file(file)
            .map_err(|e| MirrorError::Local(format!("reading {}: {e}", file.display())))?;
        if sha256 != request.sha256 || size != request.size {
            return Err(MirrorError::Mismatch(format!(
                "the fetched bytes are {size} bytes of sha256 {sha256}, the announcement {} bytes \
                 of sha256 {}",
                request.size, request.sha256
            )));
        }
        let mut reader =
            File::open(file).map_err(|e| MirrorError::Local(format!("reopening: {e}")))?;
        // The catalog checks the hash again as it ingests, and keeps nothing on a mismatch.
        let publish = PublishRequest {
            name: name.to_owned(),
            max_size: self.max_size,
            expected_size: Some(size),
            expected_sha256: vec![request.sha256],
            ..PublishRequest::default()
        };
        let published =
            (self.catalog.publish(&mut reader, &publish)).map_err(|error| match error {
                CatalogError::TooLarge { limit } => MirrorError::TooLarge { size, limit },
                CatalogError::HashMismatch { actual } => MirrorError::LateMismatch(format!(
                    "the catalog hashed it to {actual}, announced {}",
                    request.sha256
                )),
                other => MirrorError::Local(format!("publishing: {other}")),
            })?;
        let entry = &published.entry;
        Ok(Mirrored {
            size,
            existing: published.existing,
            info_hash: entry.info_hash,
        })
    }
}

/// How to download `torrent` into `folder`: the magnet's trackers and peers besides the
/// torrent's own trackers, and `web_seeds` as the only web seeds.
fn download_config(
    folder: &Path,
    peer_id: PeerId,
    magnet: &Magnet,
    torrent: &Arc<Torrent>,
    web_seeds: &[String],
) -> RunConfig {
    let mut config = RunConfig::new(folder, peer_id);
    // The torrent's own trackers are used anyway (an exact source's .torrent has some).
    let known: Vec<&String> = torrent.trackers().iter().flatten().collect();
    config.trackers = (magnet.trackers.iter())
        .filter(|t| !known.contains(t))
        .map(|t| vec![t.clone()])
        .collect();
    config.peers = magnet.peers.clone();
    config.threads = 1;
    config.use_web_seeds = false;
    config.web_seeds = (web_seeds.iter().cloned())
        .map(|url| Arc::new(WebSeed::new(url, Arc::clone(torrent))) as Arc<dyn PieceFetcher>)
        .collect();
    config
}

/// The web seeds to fetch from: the magnet's `ws=`, the torrent's `url-list`, the announced web
/// seed and the announced file URL; http(s) only, each once.
fn web_seed_urls(request: &MirrorRequest, magnet: &[String], torrent: &[String]) -> Vec<String> {
    let mut urls: Vec<String> = Vec::new();
    let announced = [&request.webseed, &request.url].into_iter().flatten();
    let listed = magnet.iter().chain(torrent);
    for url in listed.chain(announced) {
        if is_web(url) && !urls.contains(url) {
            urls.push(url.clone());
        }
    }
    urls
}

/// The sha256 and length of `path`'s bytes. Blocks.
fn hash_file(path: &Path) -> io::Result<(Sha256, u64)> {
    let mut file = File::open(path)?;
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        size += read as u64;
    }
    Ok((Sha256(hasher.finalize().into()), size))
}

/// A fetch's own folder, removed when dropped.
#[derive(Debug)]
struct TempFolder {
    path: PathBuf,
}

impl TempFolder {
    /// Makes `path` anew (empty, private).
    async fn create(path: PathBuf) -> Result<TempFolder, MirrorError> {
        let made = path.clone();
        tokio::task::spawn_blocking(move || {
            remove_folder(&made)?;
            make_private_folder(&made)
        })
        .await
        .map_err(|e| MirrorError::Local(e.to_string()))?
        .map_err(|e| MirrorError::Local(format!("making {}: {e}", path.display())))?;
        Ok(TempFolder { path })
    }
}

impl Drop for TempFolder {
    fn drop(&mut self) {
        if let Err(error) = remove_folder(&self.path) {
            tracing::warn!(%error, path = %self.path.display(), "could not remove a mirror's temporary folder");
        }
    }
}

/// Removes `path` and everything in it; nothing there is fine.
fn remove_folder(path: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// Makes `path` (and its parents), readable by this user only.
fn make_private_folder(path: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

/// Twelve random peer-id characters (each fetch its own id, as clients' differ per run).
fn random_suffix() -> [u8; 12] {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut bytes = [0u8; 12];
    if getrandom::fill(&mut bytes).is_err() {
        return *b"gateway-mirr";
    }
    bytes.map(|b| ALPHABET[usize::from(b) % ALPHABET.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_seeds_come_from_every_source_once_and_only_over_http() {
        let request = MirrorRequest {
            sha256: Sha256([1; 32]),
            info_hash: InfoHashV1([2; 20]),
            size: 10,
            name: "a.bin".into(),
            magnet: String::new(),
            webseed: Some("http://a/webseed/x".into()),
            url: Some("https://blossom.a/x.bin".into()),
            source: swarmgate_core::Pubkey([3; 32]),
        };
        let magnet = ["http://a/webseed/x".to_owned(), "ftp://a/x".to_owned()];
        let torrent = ["http://b/webseed/x".to_owned()];
        assert_eq!(
            web_seed_urls(&request, &magnet, &torrent),
            [
                "http://a/webseed/x",
                "http://b/webseed/x",
                "https://blossom.a/x.bin"
            ]
        );
    }

    #[test]
    fn a_file_is_hashed_whole_and_temporary_folders_go_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"abc").unwrap();
        let (sha256, size) = hash_file(&path).unwrap();
        assert_eq!(size, 3);
        assert_eq!(
            sha256.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );

        let root = dir.path().join("mirror-tmp");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let folder = runtime
            .block_on(TempFolder::create(root.join("one")))
            .unwrap();
        std::fs::write(folder.path.join("piece"), b"x").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&folder.path)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        drop(folder);
        assert!(root.exists() && !root.join("one").exists());
    }
}
