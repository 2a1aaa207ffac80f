//! What the API answers about a stored file: its address, record and every link to it.

use serde::Serialize;
use swarmgate_blobstore::Layout;
use swarmgate_catalog::{Entry, Links};

/// One stored file, as the upload, the file list and `GET /api/files/{sha256}` answer it.
#[derive(Debug, Serialize)]
pub(super) struct FileAnswer {
    /// The file's SHA-256, hex: its address.
    pub sha256: String,
    /// Its name in the torrent.
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// Its media type (detected from its bytes, the declared type and its name).
    pub mime: String,
    /// `blob` or `chunked`.
    pub storage: &'static str,
    /// Unix seconds of the first upload.
    pub created: u64,
    /// Its Blossom owners (Nostr public keys, hex).
    pub owners: Vec<String>,
    /// The torrent's v1 info-hash, hex.
    pub info_hash: String,
    /// The magnet link.
    pub magnet: String,
    /// The .torrent.
    pub torrent_url: String,
    /// The BEP 19 web seed URL.
    pub webseed_url: String,
    /// The HTTP download URL.
    pub download_url: String,
    /// The Blossom URL (`<blossom base>/<sha256>.<ext>`), unless the gateway runs no Blossom
    /// server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blossom_url: Option<String>,
}

impl FileAnswer {
    /// The answer for a stored file, with links under `links`.
    pub(super) fn of(links: &Links, entry: &Entry) -> FileAnswer {
        let file = &entry.file;
        FileAnswer {
            sha256: file.sha256.to_hex(),
            name: file.name.clone(),
            size: file.size,
            mime: file.mime.clone(),
            storage: match file.layout {
                Layout::Blob => "blob",
                Layout::Chunked { .. } => "chunked",
            },
            created: file.created,
            owners: entry.owners.iter().map(|o| o.to_hex()).collect(),
            info_hash: entry.info_hash.to_string(),
            magnet: links.magnet(&file.sha256, entry.info_hash, &file.name),
            torrent_url: links.torrent(&file.sha256),
            webseed_url: links.webseed(&file.sha256),
            download_url: links.download(&file.sha256),
            blossom_url: links
                .blossom_base()
                .map(|base| swarmgate_blossom::blob_url(base, &file.sha256, &file.mime)),
        }
    }
}
