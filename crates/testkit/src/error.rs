//! Errors of the simulated network and of the fixture builder (no BEP).

use std::time::Duration;

use crate::types::{ConnId, NodeId};

/// A [`SimNet`](crate::SimNet) call that cannot be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// The node id was not issued by this network: a bug in the test.
    #[error("{node} does not exist in this network")]
    UnknownNode {
        /// The id given.
        node: NodeId,
    },
    /// The connection id was not issued by this network: a bug in the test.
    #[error("{conn} does not exist in this network")]
    UnknownConn {
        /// The id given.
        conn: ConnId,
    },
    /// The node was killed; it can no longer open connections.
    #[error("{node} was killed")]
    NodeDown {
        /// The killed node.
        node: NodeId,
    },
    /// The end is closing or closed: drop the bytes, as a real socket would refuse them.
    #[error("{conn} is closed")]
    ConnClosed {
        /// The closed end.
        conn: ConnId,
    },
    /// A run took more scheduler steps than [`SimConfig::step_limit`](crate::SimConfig)
    /// allows: most likely two hosts answering each other forever at one instant (zero latency
    /// and unlimited rates), or a host whose timer never moves. Fix the host, or raise the limit.
    #[error("step limit of {limit} reached at virtual time {at:?}")]
    StepLimit {
        /// The limit in force.
        limit: u64,
        /// The virtual time (since the epoch) when it was reached.
        at: Duration,
    },
}

/// A [`TorrentFixture`](crate::TorrentFixture) that cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// The piece length is 0 or above 4 GiB - 1: choose another.
    #[error("piece length {0} is not in 1..=4294967295")]
    PieceLength(u64),
    /// The files add up to 0 bytes, which no torrent may hold: give a file a length.
    #[error("the fixture holds no data")]
    Empty,
    /// A file path is empty or has an empty, `.` or `..` component (which the metainfo parser
    /// would rewrite, so the fixture's files and the torrent's would differ).
    #[error("file path {path:?} is not a plain relative path")]
    BadPath {
        /// The path given.
        path: String,
    },
    /// Two files have the same path, or one file's path is another's directory.
    #[error("file path {path:?} collides with another file")]
    DuplicatePath {
        /// The second of the colliding paths.
        path: String,
    },
    /// The metainfo writer refused the parts of the torrent: a bug in the fixture builder.
    #[error("writing the torrent failed: {0}")]
    Write(#[from] swarmgate_metainfo::WriteError),
    /// The metainfo parser refused the torrent built: a bug in the builder or the parser.
    #[error("the built torrent does not parse: {0}")]
    Metainfo(#[from] swarmgate_metainfo::MetainfoError),
}
