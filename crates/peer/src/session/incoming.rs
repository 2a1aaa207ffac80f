//! BEP 3/6/9/10 messages received by a [`PeerSession`]: validation and state changes.

use std::time::Instant;

use bytes::Bytes;
use swarmgate_core::{BLOCK_SIZE, Bitfield, BlockRef, PieceIndex};

use super::{PeerEvent, PeerSession, fits};
use crate::error::{MetadataError, PeerError, ProtocolError};
use crate::extension::{ExtendedHandshake, UT_METADATA, UT_METADATA_ID};
use crate::message::{Message, id};
use crate::metadata::{MetadataMessage, metadata_piece};

impl PeerSession {
    pub(super) fn on_message(&mut self, now: Instant, msg: Message) -> Result<(), PeerError> {
        match msg {
            Message::KeepAlive => {}
            Message::Choke => {
                if !self.peer_choking {
                    self.peer_choking = true;
                    let dropped = if self.fast {
                        Vec::new()
                    } else {
                        self.outstanding.drain(..).collect()
                    };
                    self.events.push_back(PeerEvent::Choked { dropped });
                }
            }
            Message::Unchoke => {
                if self.peer_choking {
                    self.peer_choking = false;
                    self.events.push_back(PeerEvent::Unchoked);
                }
            }
            Message::Interested => {
                if !self.peer_interested {
                    self.peer_interested = true;
                    self.events.push_back(PeerEvent::Interested);
                }
            }
            Message::NotInterested => {
                if self.peer_interested {
                    self.peer_interested = false;
                    self.events.push_back(PeerEvent::NotInterested);
                }
            }
            Message::Have(piece) => self.on_have(piece)?,
            Message::Bitfield(bits) => {
                if let Some(g) = self.config.geometry {
                    let field = Bitfield::from_bytes(&bits, g.piece_count())
                        .map_err(ProtocolError::InvalidBitfield)?;
                    self.piece_state(field);
                }
                self.piece_state_seen = true;
            }
            Message::HaveAll | Message::HaveNone => {
                let all = msg == Message::HaveAll;
                self.require_fast(if all { id::HAVE_ALL } else { id::HAVE_NONE })?;
                if let Some(g) = self.config.geometry {
                    let count = g.piece_count();
                    self.piece_state(if all {
                        Bitfield::full(count)
                    } else {
                        Bitfield::new(count)
                    });
                }
                self.piece_state_seen = true;
            }
            Message::Request(block) => self.on_request(block)?,
            Message::Piece {
                piece,
                offset,
                data,
            } => self.on_piece(now, piece, offset, data),
            Message::Cancel(block) => {
                self.piece_state_seen = true;
                if let Some(at) = self.queued.iter().position(|b| *b == block) {
                    self.queued.remove(at);
                    self.events.push_back(PeerEvent::Cancelled(block));
                    // BEP 6: a cancelled request is answered, here with a reject (as libtorrent).
                    if self.fast {
                        self.queue(&Message::Reject(block));
                    }
                }
            }
            Message::Port(port) => self.events.push_back(PeerEvent::Port(port)),
            Message::Suggest(piece) => {
                self.require_fast(id::SUGGEST)?;
                if self.check_index("suggest", piece)? {
                    self.events.push_back(PeerEvent::Suggest(piece));
                }
            }
            Message::Reject(block) => {
                self.require_fast(id::REJECT)?;
                // A reject for a block we no longer wait for (cancelled, timed out) is normal.
                if let Some(at) = self.outstanding.iter().position(|b| *b == block) {
                    self.outstanding.remove(at);
                    self.last_progress = now;
                    self.events.push_back(PeerEvent::Rejected(block));
                }
            }
            Message::AllowedFast(piece) => {
                self.require_fast(id::ALLOWED_FAST)?;
                if self.check_index("allowed fast", piece)? && !self.allowed_fast.contains(&piece) {
                    self.allowed_fast.push(piece);
                    self.events.push_back(PeerEvent::AllowedFast(piece));
                }
            }
            Message::Extended { id, payload } => self.on_extended(id, payload)?,
        }
        Ok(())
    }

    fn require_fast(&self, id: u8) -> Result<(), ProtocolError> {
        if self.fast {
            Ok(())
        } else {
            Err(ProtocolError::FastNotNegotiated { id })
        }
    }

    /// A bitfield, have-all or have-none. BEP 3 and 6 allow one, as the first piece-state
    /// message; a later one is taken as haves (what it adds; a peer loses no piece), as
    /// libtorrent takes it: aria2 1.36 answers with have-none and then, once it holds a piece,
    /// sends a bitfield, and dropping it for that stalls every download from aria2's side.
    fn piece_state(&mut self, field: Bitfield) {
        let Some(known) = self.peer_pieces.as_mut().filter(|_| self.piece_state_seen) else {
            self.set_pieces(field);
            return;
        };
        for piece in field.ones() {
            if known.set(piece) {
                self.events.push_back(PeerEvent::Have(piece));
            }
        }
    }

    /// `Ok(true)` when the index is in range, `Ok(false)` when the geometry is unknown (the
    /// message is then ignored), an error when it is out of range.
    fn check_index(&self, message: &'static str, piece: PieceIndex) -> Result<bool, ProtocolError> {
        let Some(g) = self.config.geometry else {
            return Ok(false);
        };
        if piece.0 >= g.piece_count() {
            return Err(ProtocolError::PieceOutOfRange {
                message,
                piece,
                count: g.piece_count(),
            });
        }
        Ok(true)
    }

    fn set_pieces(&mut self, field: Bitfield) {
        self.peer_pieces = Some(field);
        self.events.push_back(PeerEvent::PiecesKnown);
    }

    fn on_have(&mut self, piece: PieceIndex) -> Result<(), ProtocolError> {
        self.piece_state_seen = true;
        if !self.check_index("have", piece)? {
            return Ok(());
        }
        let count = self.config.geometry.map_or(0, |g| g.piece_count());
        let field = self.peer_pieces.get_or_insert_with(|| Bitfield::new(count));
        if field.set(piece) {
            self.events.push_back(PeerEvent::Have(piece));
        }
        Ok(())
    }

    fn on_request(&mut self, block: BlockRef) -> Result<(), ProtocolError> {
        self.piece_state_seen = true;
        let Some(g) = self.config.geometry else {
            return self.refuse(block);
        };
        if block.piece.0 >= g.piece_count() {
            return Err(ProtocolError::PieceOutOfRange {
                message: "request",
                piece: block.piece,
                count: g.piece_count(),
            });
        }
        if block.length > BLOCK_SIZE && self.fast {
            return self.refuse(block);
        }
        if !fits(&g, block) {
            return Err(ProtocolError::InvalidRequest(block));
        }
        if self.am_choking {
            return self.refuse(block);
        }
        if self.queued.contains(&block) {
            return Ok(());
        }
        if self.queued.len() >= self.config.reqq as usize {
            return Err(ProtocolError::RequestFlood {
                limit: self.config.reqq,
            });
        }
        self.queued.push_back(block);
        self.events.push_back(PeerEvent::Request(block));
        Ok(())
    }

    /// A request we will not serve: rejected with the fast extension, dropped without it.
    fn refuse(&mut self, block: BlockRef) -> Result<(), ProtocolError> {
        if self.fast {
            self.queue(&Message::Reject(block));
        }
        Ok(())
    }

    fn on_piece(&mut self, now: Instant, piece: PieceIndex, offset: u32, data: Bytes) {
        self.piece_state_seen = true;
        let block = BlockRef {
            piece,
            offset,
            length: data.len() as u32,
        };
        // Blocks usually arrive in request order: the search ends at the front.
        match self.outstanding.iter().position(|b| *b == block) {
            Some(at) => {
                self.outstanding.remove(at);
                self.downloaded += data.len() as u64;
                self.last_progress = now;
                self.events.push_back(PeerEvent::Block { block, data });
            }
            None => self.unrequested += data.len() as u64,
        }
    }

    fn on_extended(&mut self, ext: u8, payload: Bytes) -> Result<(), ProtocolError> {
        if !self.extended {
            // We did not offer BEP 10 (or they did not): nothing to route it by.
            return Ok(());
        }
        match ext {
            0 => {
                let hs = ExtendedHandshake::decode(&payload)?;
                match &mut self.remote_ext {
                    Some(known) => known.update(hs),
                    None => self.remote_ext = Some(hs),
                }
                self.events.push_back(PeerEvent::ExtendedHandshake);
            }
            UT_METADATA_ID => match MetadataMessage::decode(&payload) {
                Ok(MetadataMessage::Request { piece }) => self.serve_metadata(piece),
                Ok(other) => self.events.push_back(PeerEvent::Metadata(other)),
                // BEP 9: unknown message types are ignored.
                Err(MetadataError::UnknownType(_)) => {}
                Err(e) => return Err(ProtocolError::Metadata(e)),
            },
            _ => self
                .events
                .push_back(PeerEvent::Extended { id: ext, payload }),
        }
        Ok(())
    }

    fn serve_metadata(&mut self, piece: u32) {
        let Some(their_id) = self.remote_ext.as_ref().and_then(|e| e.id(UT_METADATA)) else {
            return;
        };
        let reply = self
            .config
            .metadata
            .as_deref()
            .filter(|_| self.send.len() <= super::METADATA_SEND_BACKLOG)
            .and_then(|info| metadata_piece(info, piece))
            .unwrap_or(MetadataMessage::Reject { piece });
        let payload = Bytes::from(reply.encode());
        self.queue(&Message::Extended {
            id: their_id,
            payload,
        });
    }
}
