//! A harness that runs several [`Engine`]s over testkit's simulated network in virtual time: the
//! third driver of the engine, beside the download driver and the seeder.
//!
//! Each node is one engine with in-memory storage. Uploaders serve the fixture's bytes (a
//! corrupting one flips a byte in every block it serves); the leecher writes blocks into a buffer
//! and verifies pieces against the torrent's hashes, as the real disk threads do. The nodes are
//! drained with the crate's own [`drive`], through [`NodeIo`], so the simulation runs the loop the
//! real drivers run; everything the engines ask for is done at once, at the virtual instant they
//! ask, and answered inside that `drive`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use std::net::SocketAddr;

use bytes::Bytes;
use sha1::{Digest, Sha1};
use swarmgate_core::{BLOCK_SIZE, Bitfield, BlockRef, PeerId, PieceIndex};
use swarmgate_peer::Handshake;
use swarmgate_rank::Source;
use swarmgate_session::{
    DisconnectReason, Engine, EngineConfig, EngineEvent, EngineIo, PeerKey, PieceCheck,
    WebSeedFailure, drive,
};
use swarmgate_testkit::{
    ConnId, Delivery, DeliveryKind, Fixture, NodeConfig, NodeId, SimHost, SimNet,
};

/// What a node does with the torrent's data.
pub(crate) enum Role {
    /// Downloads into memory and verifies.
    Leecher,
    /// Serves the pieces it has from the fixture.
    Uploader,
    /// Serves the pieces it has, with one byte of every block flipped.
    Corrupter,
}

pub(crate) struct Node {
    pub(crate) id: NodeId,
    pub(crate) engine: Engine,
    pub(crate) role: Role,
    pub(crate) data: Vec<u8>,
    conns: HashMap<ConnId, PeerKey>,
    keys: HashMap<PeerKey, ConnId>,
    /// Incoming connections whose handshake has not fully arrived.
    handshaking: HashMap<ConnId, Vec<u8>>,
    /// Every event the engine told, in order, with its virtual time.
    pub(crate) log: Vec<(Instant, EngineEvent)>,
}

pub(crate) struct Swarm {
    pub(crate) fixture: Fixture,
    pub(crate) nodes: Vec<Node>,
    /// The run stops when this node completes.
    pub(crate) watch: usize,
}

impl Swarm {
    pub(crate) fn new(fixture: Fixture) -> Self {
        Self {
            fixture,
            nodes: Vec::new(),
            watch: 0,
        }
    }

    /// Adds a node holding `have`, with `role`, on a link of `rate` bytes per second each way,
    /// `latency` away.
    pub(crate) fn add(
        &mut self,
        net: &mut SimNet,
        (rate, latency): (u64, Duration),
        role: Role,
        have: Bitfield,
    ) -> usize {
        let index = self.nodes.len();
        let id = net.add_node(NodeConfig::symmetric(rate, latency));
        let torrent = &self.fixture.torrent;
        let mut suffix = [0u8; 12];
        suffix[..8].copy_from_slice(&(index as u64).to_be_bytes());
        let info_hash = torrent.info_hash().v1().expect("fixtures are v1");
        let mut engine_config = EngineConfig::new(
            info_hash,
            PeerId::swarmgate(suffix),
            torrent.layout().geometry(),
        );
        engine_config.seed = index as u64 + 1;
        engine_config.download = matches!(role, Role::Leecher);
        let data = match role {
            Role::Leecher => vec![0; self.fixture.data.len()],
            _ => self.fixture.data.clone(),
        };
        self.nodes.push(Node {
            id,
            engine: Engine::new(engine_config, have, net.now()),
            role,
            data,
            conns: HashMap::new(),
            keys: HashMap::new(),
            handshaking: HashMap::new(),
            log: Vec::new(),
        });
        index
    }

    /// Tells node `from` about node `to`'s address.
    pub(crate) fn introduce(&mut self, net: &mut SimNet, from: usize, to: usize) {
        let addr = net.addr(self.nodes[to].id).expect("node exists");
        self.nodes[from]
            .engine
            .add_peers(net.now(), [addr], Source::Manual);
        self.flush(net, from);
    }

    fn node_index(&self, id: NodeId) -> usize {
        self.nodes
            .iter()
            .position(|n| n.id == id)
            .expect("known node")
    }

    /// Carries out everything node `i`'s engine asks for, until it asks for nothing more.
    pub(crate) fn flush(&mut self, net: &mut SimNet, i: usize) {
        let now = net.now();
        let node = &mut self.nodes[i];
        let mut io = NodeIo {
            net,
            fixture: &self.fixture,
            id: node.id,
            role: &node.role,
            data: &mut node.data,
            conns: &mut node.conns,
            keys: &mut node.keys,
            log: &mut node.log,
        };
        drive(&mut node.engine, now, &mut io);
    }
}

/// A node's side of the engine contract: the simulated network and the node's memory.
struct NodeIo<'a> {
    net: &'a mut SimNet,
    fixture: &'a Fixture,
    id: NodeId,
    role: &'a Role,
    data: &'a mut Vec<u8>,
    conns: &'a mut HashMap<ConnId, PeerKey>,
    keys: &'a mut HashMap<PeerKey, ConnId>,
    log: &'a mut Vec<(Instant, EngineEvent)>,
}

impl EngineIo for NodeIo<'_> {
    fn transmit(&mut self, engine: &mut Engine, now: Instant, key: PeerKey, bytes: Bytes) {
        if let Some(&conn) = self.keys.get(&key) {
            let length = bytes.len();
            if self.net.send(conn, bytes).is_ok() {
                engine.handle_peer_written(now, key, length);
            }
        }
    }

    fn connect(&mut self, engine: &mut Engine, now: Instant, key: PeerKey, addr: SocketAddr) {
        let target = self.net.node_at(addr).expect("a simulated address");
        match self.net.connect(self.id, target) {
            Ok((conn, _)) => {
                self.conns.insert(conn, key);
                self.keys.insert(key, conn);
            }
            Err(_) => engine.handle_connect_failed(now, key),
        }
    }

    fn disconnect(&mut self, key: PeerKey, _: DisconnectReason) {
        if let Some(conn) = self.keys.remove(&key) {
            self.conns.remove(&conn);
            let _ = self.net.close(conn);
        }
    }

    fn write(&mut self, block: BlockRef, data: Bytes) {
        let geometry = self.fixture.torrent.layout().geometry();
        let start = (geometry.piece_offset(block.piece) + u64::from(block.offset)) as usize;
        self.data[start..start + data.len()].copy_from_slice(&data);
    }

    fn verify(
        &mut self,
        engine: &mut Engine,
        now: Instant,
        piece: PieceIndex,
        block_digests: bool,
    ) {
        let geometry = self.fixture.torrent.layout().geometry();
        let bytes = piece_bytes(self.data, geometry, piece);
        let passed = Sha1::digest(bytes).as_slice()
            == self.fixture.torrent.piece_hash(piece).expect("v1 hashes");
        let digests = (block_digests || !passed).then(|| {
            bytes
                .chunks(BLOCK_SIZE as usize)
                .map(|b| Sha1::digest(b).into())
                .collect()
        });
        let check = PieceCheck {
            passed,
            block_digests: digests,
        };
        engine.handle_piece_checked(now, piece, check);
    }

    fn read(&mut self, engine: &mut Engine, now: Instant, key: PeerKey, block: BlockRef) {
        let geometry = self.fixture.torrent.layout().geometry();
        let mut bytes = block_bytes(self.data, geometry, block).to_vec();
        if matches!(self.role, Role::Corrupter) {
            bytes[0] ^= 0xff;
        }
        engine.handle_block_read(now, key, block, Bytes::from(bytes));
    }

    fn fetch(&mut self, engine: &mut Engine, now: Instant, key: PeerKey, piece: PieceIndex) {
        // No node has a web seed; should one be asked for, it cannot serve.
        engine.handle_web_seed_failed(now, key, piece, WebSeedFailure::GiveUp);
    }

    fn observe(&mut self, now: Instant, event: EngineEvent) {
        self.log.push((now, event));
    }
}

fn piece_bytes(data: &[u8], geometry: swarmgate_core::Geometry, piece: PieceIndex) -> &[u8] {
    let start = geometry.piece_offset(piece) as usize;
    let size = geometry.piece_size(piece).expect("piece in range") as usize;
    &data[start..start + size]
}

fn block_bytes(data: &[u8], geometry: swarmgate_core::Geometry, block: BlockRef) -> &[u8] {
    let start = (geometry.piece_offset(block.piece) + u64::from(block.offset)) as usize;
    &data[start..start + block.length as usize]
}

impl SimHost for Swarm {
    fn on_delivery(&mut self, net: &mut SimNet, delivery: Delivery) {
        let i = self.node_index(delivery.node);
        let now = net.now();
        let conn = delivery.conn;
        let node = &mut self.nodes[i];
        match delivery.kind {
            DeliveryKind::Accepted { .. } => {
                node.handshaking.insert(conn, Vec::new());
            }
            DeliveryKind::Connected => {
                if let Some(&key) = node.conns.get(&conn) {
                    node.engine.handle_connected(now, key);
                }
            }
            DeliveryKind::Refused => {
                if let Some(key) = node.conns.remove(&conn) {
                    node.keys.remove(&key);
                    node.engine.handle_connect_failed(now, key);
                }
            }
            DeliveryKind::Data(bytes) => {
                if let Some(buffer) = node.handshaking.get_mut(&conn) {
                    buffer.extend_from_slice(&bytes);
                    if let Ok(Some((handshake, used))) = Handshake::decode(buffer) {
                        let rest = buffer.split_off(used);
                        node.handshaking.remove(&conn);
                        let addr = net.remote_addr(conn).expect("open connection");
                        match node.engine.handle_incoming(now, addr, handshake) {
                            Some(key) => {
                                node.conns.insert(conn, key);
                                node.keys.insert(key, conn);
                                node.engine.handle_peer_data(now, key, &rest);
                            }
                            None => {
                                let _ = net.close(conn);
                            }
                        }
                    }
                } else if let Some(&key) = node.conns.get(&conn) {
                    node.engine.handle_peer_data(now, key, &bytes);
                }
            }
            DeliveryKind::Closed => {
                node.handshaking.remove(&conn);
                if let Some(key) = node.conns.remove(&conn) {
                    node.keys.remove(&key);
                    node.engine.handle_peer_closed(now, key);
                }
            }
        }
        self.flush(net, i);
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        self.nodes
            .iter()
            .filter_map(|n| n.engine.poll_timeout())
            .min()
    }

    fn on_timeout(&mut self, net: &mut SimNet) {
        let now = net.now();
        for i in 0..self.nodes.len() {
            if self.nodes[i]
                .engine
                .poll_timeout()
                .is_some_and(|t| t <= now)
            {
                self.nodes[i].engine.handle_timeout(now);
                self.flush(net, i);
            }
        }
    }

    fn is_done(&self) -> bool {
        self.nodes[self.watch].engine.is_complete()
    }
}
