//! The engine's vocabulary: its configuration, the commands it gives its driver and the news it
//! tells, piece verdicts and the figures it keeps.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use swarmgate_core::{BlockRef, Geometry, InfoHashV1, PeerId, PieceIndex};
use swarmgate_peer::SessionConfig;
use swarmgate_rank::Weights;

use crate::picker::PeerKey;

/// How the engine behaves; [`EngineConfig::new`] gives libtorrent-like defaults.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// The torrent's info-hash as it goes on the wire.
    pub info_hash: InfoHashV1,
    /// Our peer id.
    pub peer_id: PeerId,
    /// The torrent's pieces.
    pub geometry: Geometry,
    /// The info dictionary, served to peers that ask for it (BEP 9).
    pub metadata: Option<Bytes>,
    /// The port we accept peers on, told to peers in the extended handshake.
    pub listen_port: Option<u16>,
    /// Our client name for the extended handshake.
    pub client: String,
    /// Download missing pieces (false: only upload what we have).
    pub download: bool,
    /// Connected peers, at most.
    pub max_peers: usize,
    /// Connection attempts in flight, at most.
    pub max_connecting: usize,
    /// Peers we upload to at once, the optimistic slot included.
    pub unchoke_slots: usize,
    /// How often the choker reconsiders (BEP 3: ten seconds).
    pub choke_interval: Duration,
    /// How often the optimistic unchoke moves on (thirty seconds).
    pub optimistic_interval: Duration,
    /// Keep about this much time's worth of a peer's rate requested from it.
    pub request_queue_time: Duration,
    /// Requests outstanding per peer: at least this many...
    pub min_requests: usize,
    /// ...and at most this many (a peer's own `reqq` caps it further).
    pub max_requests: usize,
    /// Failures before a candidate address is given up.
    pub max_connect_failures: u32,
    /// Peer ranking weights.
    pub weights: Weights,
    /// Our own addresses, for ranking by proximity.
    pub local_addrs: Vec<IpAddr>,
    /// Seed of the engine's random choices (ties in piece picking, optimistic unchokes).
    pub seed: u64,
    /// Per-connection timeouts and limits.
    pub session: SessionConfig,
}

impl EngineConfig {
    /// Defaults for a torrent: 50 peers, 4 upload slots, ten-second choking rounds, requests
    /// sized to 3 s of each peer's rate between 16 and 500.
    pub fn new(info_hash: InfoHashV1, peer_id: PeerId, geometry: Geometry) -> Self {
        Self {
            info_hash,
            peer_id,
            geometry,
            metadata: None,
            listen_port: None,
            client: concat!("Swarmgate ", env!("CARGO_PKG_VERSION")).to_string(),
            download: true,
            max_peers: 50,
            max_connecting: 10,
            unchoke_slots: 4,
            choke_interval: Duration::from_secs(10),
            optimistic_interval: Duration::from_secs(30),
            request_queue_time: Duration::from_secs(3),
            min_requests: 16,
            max_requests: 500,
            max_connect_failures: 3,
            weights: Weights::default(),
            local_addrs: Vec::new(),
            seed: 0,
            session: SessionConfig::new(info_hash, peer_id),
        }
    }
}

/// Work the engine asks its driver to do, from [`Engine::poll_command`](super::Engine::poll_command).
///
/// Every command must be carried out, in the order given, and most want an answer through a
/// `handle_*` call: dropping one is a bug (a socket left open, a block never written, a piece that
/// never finishes). [`drive`](super::drive) matches every variant without a wildcard, so a command
/// added here does not compile until each driver's [`EngineIo`](super::EngineIo) carries it out.
#[derive(Debug)]
pub enum EngineCommand {
    /// Open a TCP connection to `addr` and report with `handle_connected` or
    /// `handle_connect_failed`.
    Connect {
        /// The key the connection will have.
        key: PeerKey,
        /// Where to connect.
        addr: SocketAddr,
    },
    /// Close this peer's connection; the engine has already forgotten it, so nothing is
    /// reported back.
    Disconnect {
        /// The peer.
        key: PeerKey,
        /// Why.
        reason: DisconnectReason,
    },
    /// Write this block to storage, before anything asked after it (its piece's
    /// [`VerifyPiece`](Self::VerifyPiece) in particular); its piece's verdict is the answer.
    WriteBlock {
        /// Where the data goes.
        block: BlockRef,
        /// The bytes.
        data: Bytes,
    },
    /// Every block of `piece` has been handed out for writing: once they are written, hash the
    /// piece and report with `handle_piece_checked`.
    VerifyPiece {
        /// The piece.
        piece: PieceIndex,
        /// The piece failed before: report the SHA-1 of each block too, so the peer that sent
        /// the bad block can be found (libtorrent's "smart ban").
        block_digests: bool,
    },
    /// Read this block from storage and hand it back with `handle_block_read`.
    ReadBlock {
        /// The peer that asked for it.
        key: PeerKey,
        /// The block.
        block: BlockRef,
    },
    /// Fetch `piece` from web seed `key` (BEP 19) and report with `handle_web_seed_piece` or
    /// `handle_web_seed_failed`.
    FetchPiece {
        /// The web seed, as `add_web_seed` returned it.
        key: PeerKey,
        /// The piece.
        piece: PieceIndex,
    },
}

/// News about the torrent, from [`Engine::poll_event`](super::Engine::poll_event): the driver
/// may act on it (log it, count it, announce `completed`) or leave it; the engine expects no
/// answer.
#[derive(Debug)]
pub enum EngineEvent {
    /// A piece passed its hash check and is now served and announced.
    PieceVerified(PieceIndex),
    /// A piece failed its hash check and will be fetched again.
    PieceFailed {
        /// The piece.
        piece: PieceIndex,
        /// The addresses that sent its blocks.
        senders: Vec<SocketAddr>,
    },
    /// A peer was banned for sending data that failed the hash check.
    Banned(SocketAddr),
    /// The first request went out for a piece not started before.
    PieceStarted {
        /// The piece.
        piece: PieceIndex,
        /// The peer asked for it.
        peer: PeerKey,
        /// How many connected peers had it at the time.
        availability: u32,
    },
    /// The picker began requesting blocks from more than one peer.
    EndgameStarted,
    /// Every piece is verified.
    Complete,
}

/// Why the engine dropped a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// It sent data that failed the hash check.
    Banned,
    /// It broke the protocol or timed out; the text says how.
    Error(String),
    /// Both sides are seeds: nothing to exchange.
    BothSeeds,
    /// It does not read what we send: more than the backlog limit (4 MiB) waited for its
    /// socket. Requests while choked, metadata requests and cancels all make answers, so a
    /// peer that writes without reading would otherwise grow its queue without end.
    Backlog {
        /// Bytes given to the driver for it and not yet reported written.
        unsent: usize,
    },
    /// The engine is stopping.
    Shutdown,
}

/// The verdict on a piece from storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PieceCheck {
    /// The piece's SHA-1 matched.
    pub passed: bool,
    /// Per-block SHA-1s when [`EngineCommand::VerifyPiece`] asked for them.
    pub block_digests: Option<Vec<[u8; 20]>>,
}

/// Figures about the download so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EngineStats {
    /// Payload bytes accepted from peers (duplicates not counted).
    pub downloaded: u64,
    /// Payload bytes sent to peers.
    pub uploaded: u64,
    /// Payload bytes received but not needed (duplicates in endgame, late blocks).
    pub wasted: u64,
    /// Pieces verified.
    pub pieces_have: u32,
    /// Pieces in the torrent.
    pub pieces_total: u32,
    /// Pieces verified in this run (not found on disk at start).
    pub pieces_fetched: u32,
    /// Connected peers.
    pub peers: usize,
    /// Peers that sent us at least one block, ever.
    pub peers_used: usize,
    /// Download rate over the last seconds, bytes per second.
    pub download_rate: u64,
    /// Upload rate, bytes per second.
    pub upload_rate: u64,
    /// Pieces that failed the hash check.
    pub hash_failures: u32,
    /// Peers banned.
    pub banned: u32,
    /// Cancels sent for blocks that arrived from another peer first.
    pub cancels_sent: u64,
}
