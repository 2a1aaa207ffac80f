//! Simulated TCP (no BEP): lookups and counters of [`SimNet`]: who is where, and how much moved.
//!
//! Engines key peers by address, so every node has a stable fake one (`10.0.x.y:6881`) and
//! every connection end can say which node and which end are on the other side.

use std::net::SocketAddr;

use crate::net::{SIM_PORT, SimNet};
use crate::types::{ConnId, ConnInfo, ConnState, ConnStats, NodeConfig, NodeId, NodeStats};

impl SimNet {
    /// How many nodes the network has.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// A node's settings.
    pub fn node_config(&self, node: NodeId) -> Option<NodeConfig> {
        self.nodes.get(node.index()).map(|n| n.config)
    }

    /// A node's fake address, `10.0.x.y:6881`.
    pub fn addr(&self, node: NodeId) -> Option<SocketAddr> {
        self.nodes.get(node.index()).map(|n| n.addr)
    }

    /// The node with address `addr`.
    pub fn node_at(&self, addr: SocketAddr) -> Option<NodeId> {
        let SocketAddr::V4(v4) = addr else {
            return None;
        };
        let [a, b, c, d] = v4.ip().octets();
        let n = u32::from_be_bytes([0, b, c, d]);
        (a == 10 && v4.port() == SIM_PORT && n >= 1 && (n as usize) <= self.nodes.len())
            .then(|| NodeId(n - 1))
    }

    /// False once the node was killed.
    pub fn is_alive(&self, node: NodeId) -> bool {
        self.nodes.get(node.index()).is_some_and(|n| n.alive)
    }

    /// The node's ends that are connecting, open or closing, in creation order.
    pub fn connections(&self, node: NodeId) -> &[ConnId] {
        self.nodes
            .get(node.index())
            .map_or(&[], |n| n.ends.as_slice())
    }

    /// Everything about one end: its node, its peer, addresses, direction and state.
    pub fn conn_info(&self, conn: ConnId) -> Option<ConnInfo> {
        let end = self.ends.get(conn.index())?;
        let peer = &self.ends[end.peer.index()];
        Some(ConnInfo {
            node: end.node,
            peer_node: peer.node,
            peer_conn: end.peer,
            local_addr: self.nodes[end.node.index()].addr,
            remote_addr: self.nodes[peer.node.index()].addr,
            outbound: end.outbound,
            state: end.state,
        })
    }

    /// The other end of `conn`.
    pub fn peer(&self, conn: ConnId) -> Option<ConnId> {
        self.ends.get(conn.index()).map(|e| e.peer)
    }

    /// The node `conn` belongs to.
    pub fn node_of(&self, conn: ConnId) -> Option<NodeId> {
        self.ends.get(conn.index()).map(|e| e.node)
    }

    /// The node at the other end of `conn`.
    pub fn peer_node(&self, conn: ConnId) -> Option<NodeId> {
        self.conn_info(conn).map(|i| i.peer_node)
    }

    /// The address of the node at the other end of `conn`.
    pub fn remote_addr(&self, conn: ConnId) -> Option<SocketAddr> {
        self.conn_info(conn).map(|i| i.remote_addr)
    }

    /// The state of `conn`.
    pub fn conn_state(&self, conn: ConnId) -> Option<ConnState> {
        self.ends.get(conn.index()).map(|e| e.state)
    }

    /// A node's byte counters.
    pub fn node_stats(&self, node: NodeId) -> Option<NodeStats> {
        self.nodes.get(node.index()).map(|n| n.stats)
    }

    /// An end's byte counters.
    pub fn conn_stats(&self, conn: ConnId) -> Option<ConnStats> {
        self.ends.get(conn.index()).map(|e| ConnStats {
            bytes_queued: e.queued,
            bytes_sent: e.bytes_sent,
            bytes_received: e.bytes_received,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_count_through_the_octets_and_map_back() {
        let mut net = SimNet::new(0);
        let nodes: Vec<NodeId> = (0..70_000)
            .map(|_| net.add_node(NodeConfig::default()))
            .collect();
        let addr = |s: &str| s.parse::<SocketAddr>().expect("address");
        assert_eq!(net.addr(nodes[65_534]), Some(addr("10.0.255.255:6881")));
        assert_eq!(net.addr(nodes[65_535]), Some(addr("10.1.0.0:6881")));
        for &n in nodes.iter().step_by(997) {
            assert_eq!(net.node_at(net.addr(n).expect("address")), Some(n));
        }
        assert_eq!(net.node_count(), 70_000);
        assert_eq!(net.node_config(nodes[9]), Some(NodeConfig::default()));
    }
}
