//! BEP 3/5/6/10 commands the owner of a [`PeerSession`] issues: what we say to the peer.

use std::time::Instant;

use bytes::Bytes;
use swarmgate_core::{Bitfield, BlockRef, PieceIndex};

use super::{PeerSession, fits};
use crate::error::RequestError;
use crate::message::Message;

impl PeerSession {
    /// Sends our pieces: the first message after the handshake. With the fast extension a full
    /// or empty set goes as have-all / have-none; without it an empty set is not sent at all
    /// (BEP 3 allows skipping it). Returns false (and sends nothing) before the handshakes,
    /// after another piece-state message, or for a set of the wrong length.
    pub fn send_bitfield(&mut self, have: &Bitfield) -> bool {
        let fits_geometry = self
            .config
            .geometry
            .is_none_or(|g| g.piece_count() == have.len());
        if !self.established || self.first_sent || !fits_geometry {
            return false;
        }
        self.first_sent = true;
        if self.fast && have.is_full() && !have.is_empty() {
            self.queue(&Message::HaveAll);
        } else if have.is_clear() {
            if self.fast {
                self.queue(&Message::HaveNone);
            }
        } else {
            let bits = Bytes::copy_from_slice(have.as_bytes());
            self.queue(&Message::Bitfield(bits));
        }
        true
    }

    /// With the fast extension, some piece-state message must come first: have-none if the
    /// caller sent nothing yet.
    fn ensure_first(&mut self) {
        if !self.first_sent {
            self.first_sent = true;
            if self.fast {
                self.queue(&Message::HaveNone);
            }
        }
    }

    /// Tells the peer we now have `piece`.
    pub fn have(&mut self, piece: PieceIndex) {
        if self.established {
            self.ensure_first();
            self.queue(&Message::Have(piece));
        }
    }

    /// Sets our interest; sends a message only on a change.
    pub fn set_interested(&mut self, interested: bool) {
        if self.established && self.am_interested != interested {
            self.am_interested = interested;
            self.queue(if interested {
                &Message::Interested
            } else {
                &Message::NotInterested
            });
        }
    }

    /// Chokes or unchokes the peer; sends a message only on a change. Choking drops the peer's
    /// queued requests, each answered with a reject when the fast extension is on (BEP 6).
    pub fn set_choking(&mut self, choking: bool) {
        if !self.established || self.am_choking == choking {
            return;
        }
        self.am_choking = choking;
        if !choking {
            self.queue(&Message::Unchoke);
            return;
        }
        self.queue(&Message::Choke);
        let dropped = std::mem::take(&mut self.queued);
        if self.fast {
            for block in dropped {
                self.queue(&Message::Reject(block));
            }
        }
    }

    /// Requests a block. Refused (nothing sent) when the session is not established, has no
    /// geometry or the block does not fit it, the peer chokes us and the piece is not
    /// allowed-fast, the peer lacks the piece, the block is already outstanding, or
    /// [`Self::max_outstanding`] requests are.
    pub fn request(&mut self, now: Instant, block: BlockRef) -> Result<(), RequestError> {
        if !self.established {
            return Err(RequestError::NotEstablished);
        }
        let geometry = self.config.geometry.ok_or(RequestError::NoGeometry)?;
        if !fits(&geometry, block) {
            return Err(RequestError::InvalidBlock);
        }
        if self.peer_choking && !(self.fast && self.allowed_fast.contains(&block.piece)) {
            return Err(RequestError::Choked);
        }
        if !self
            .peer_pieces
            .as_ref()
            .is_some_and(|p| p.get(block.piece))
        {
            return Err(RequestError::PeerLacksPiece);
        }
        if self.outstanding.contains(&block) {
            return Err(RequestError::AlreadyOutstanding);
        }
        let max = self.max_outstanding();
        if self.outstanding.len() >= max {
            return Err(RequestError::QueueFull { max });
        }
        self.last_now = now;
        if self.outstanding.is_empty() {
            self.last_progress = now;
        }
        self.outstanding.push_back(block);
        self.queue(&Message::Request(block));
        Ok(())
    }

    /// Withdraws an outstanding request and sends a cancel; false if it was not outstanding.
    /// With the fast extension the peer may still answer it (piece or reject): either is
    /// tolerated, the piece counted as unrequested.
    pub fn cancel(&mut self, block: BlockRef) -> bool {
        let Some(at) = self.outstanding.iter().position(|b| *b == block) else {
            return false;
        };
        self.outstanding.remove(at);
        self.queue(&Message::Cancel(block));
        true
    }

    /// Serves a block the peer requested. Only if that request is still queued (not cancelled,
    /// not dropped by a choke) and `data` is exactly the block's length; counts uploaded bytes.
    pub fn send_block(&mut self, block: BlockRef, data: Bytes) -> bool {
        if data.len() != block.length as usize {
            return false;
        }
        let Some(at) = self.queued.iter().position(|b| *b == block) else {
            return false;
        };
        self.queued.remove(at);
        self.uploaded += data.len() as u64;
        self.queue(&Message::Piece {
            piece: block.piece,
            offset: block.offset,
            data,
        });
        true
    }

    /// Refuses a queued request of the peer (say, the piece is not readable): it is dropped, and
    /// a reject sent when the fast extension is on. False if it was not queued.
    pub fn reject(&mut self, block: BlockRef) -> bool {
        let Some(at) = self.queued.iter().position(|b| *b == block) else {
            return false;
        };
        self.queued.remove(at);
        if self.fast {
            self.queue(&Message::Reject(block));
        }
        true
    }

    /// Sends an extension message under the id the peer gave `name`; false if it gave none.
    pub fn send_extended(&mut self, name: &str, payload: &[u8]) -> bool {
        let Some(id) = self.remote_ext.as_ref().and_then(|e| e.id(name)) else {
            return false;
        };
        let payload = Bytes::copy_from_slice(payload);
        self.queue(&Message::Extended { id, payload });
        true
    }

    /// Sends our DHT port (BEP 5).
    pub fn send_port(&mut self, port: u16) {
        if self.established {
            self.queue(&Message::Port(port));
        }
    }
}
