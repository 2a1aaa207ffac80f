#!/usr/bin/python3
"""A python3-libtorrent peer for the `swarm download` interop tests, kept off the network.

  lt_peer.py create PATH OUT.torrent [--tracker URL] [--v1-only] [--piece-size N]
      Makes a torrent of PATH (file or folder) with libtorrent's create_torrent: hybrid v1+v2
      with pad files by default, v1 only with --v1-only. Prints the v1 info-hash.
  lt_peer.py seed TORRENT SAVE_DIR [--peer HOST:PORT]... [--upload-limit BYTES_PER_S]
      Seeds TORRENT from SAVE_DIR (the data must be there), announcing to the torrent's trackers.
      Prints "READY <port>" once seeding and known to its tracker, then runs until stdin closes.
  lt_peer.py leech SOURCE SAVE_DIR [--peer HOST:PORT]... [--timeout S]
                   [--download-limit BYTES_PER_S] [--linger]
      Downloads SOURCE (a .torrent path or a magnet link) into SAVE_DIR from the given peers and
      the torrent's trackers. Prints "READY <port>", then "DONE" and exits 0 when complete;
      exits 1 with a reason on timeout. With --download-limit it reads commands from stdin, one
      a line: "unlimit" lifts the limit. With --linger it stays after DONE (seeding, so that its
      "completed" announce reaches the trackers) until stdin closes or the timeout.

Every session speaks plain TCP (no uTP, no encryption), listens on 127.0.0.1 only, with DHT, LSD, UPnP and NAT-PMP off, several
connections per IP allowed (all peers share 127.0.0.1), and loopback peers in the global peer
class so that nothing is treated as special.

seed and leech also take --listen IP (listen on IP instead of 127.0.0.1: give each libtorrent
DHT node its own 127.0.N.1, since libtorrent keeps one node per IP) and --dht HOST:PORT
(repeatable: turn the DHT on, bootstrapped from these nodes only, with its per-IP query limit
and its reply quota raised for loopback tests; the session's node shares its listen port).
"""
import argparse
import os
import select
import sys
import time

import libtorrent as lt


def session(upload_limit=0, download_limit=0, listen="127.0.0.1", dht=()):
    ses = lt.session({
        "listen_interfaces": listen + ":0",
        "enable_dht": bool(dht),
        "dht_bootstrap_nodes": ",".join(dht),
        # Loopback tests: a node per 127.0.N.1, many queries from one address.
        "dht_restrict_routing_ips": False,
        "dht_restrict_search_ips": False,
        "dht_block_ratelimit": 10000,
        "dht_upload_rate_limit": 10000000,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True,
        "announce_to_all_tiers": True,
        "announce_to_all_trackers": True,
        "alert_mask": 0,
        "upload_rate_limit": upload_limit,
        "download_rate_limit": download_limit,
        # Swarmgate speaks plain TCP (no uTP, no MSE encryption yet). libtorrent's defaults
        # would try uTP first and then an encrypted handshake, each timing out or reset before
        # plain TCP; under load those retries outlast a test. Go straight to what works.
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "out_enc_policy": 2,
        "in_enc_policy": 1,
    })
    # Loopback peers would be in the unlimited "local" class: put everyone in the global one.
    everyone = lt.ip_filter()
    everyone.add_rule("0.0.0.0", "255.255.255.255", 1 << lt.session.global_peer_class_id)
    ses.set_peer_class_filter(everyone)
    return ses


def add_peers(handle, peers):
    for peer in peers:
        host, port = peer.rsplit(":", 1)
        handle.connect_peer((host, int(port)))


def wait_listening(ses):
    deadline = time.time() + 20
    while not ses.listen_port():
        if time.time() > deadline:
            print("TIMEOUT listening", flush=True)
            sys.exit(1)
        time.sleep(0.02)
    print("READY", ses.listen_port(), flush=True)


def create(args):
    fs = lt.file_storage()
    lt.add_files(fs, args.path)
    flags = lt.create_torrent.v1_only if args.v1_only else 0
    ct = lt.create_torrent(fs, args.piece_size, flags=flags)
    for tracker in args.tracker:
        ct.add_tracker(tracker)
    lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(args.path)))
    data = lt.bencode(ct.generate())
    with open(args.out, "wb") as f:
        f.write(data)
    print(str(lt.torrent_info(args.out).info_hashes().v1))


def seed(args):
    ses = session(args.upload_limit, listen=args.listen, dht=args.dht)
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(args.torrent)
    params.save_path = args.save
    handle = ses.add_torrent(params)
    handle.force_recheck()
    deadline = time.time() + 60
    while not handle.status().is_seeding:
        if time.time() > deadline:
            print("TIMEOUT checking:", handle.status().state, flush=True)
            return 1
        time.sleep(0.05)
    handle.force_reannounce()
    if args.dht:
        handle.force_dht_announce()
    # With a tracker, wait until it has us (the announce reply counts us as complete), so that a
    # downloader started next finds this seeder at its first announce.
    deadline = time.time() + 20
    while params.ti.trackers() and handle.status().num_complete < 1 and time.time() < deadline:
        time.sleep(0.05)
    wait_listening(ses)
    add_peers(handle, args.peer)
    end = time.time() + args.timeout
    while time.time() < end:
        ready, _, _ = select.select([sys.stdin], [], [], 0.5)
        if ready and not sys.stdin.read(1):
            break
    return 0


class Commands:
    """Lines from stdin, read without blocking (select on the raw descriptor, no buffering)."""

    def __init__(self):
        self.fd = sys.stdin.fileno()
        self.pending = b""
        self.closed = False

    def wait(self, seconds):
        """The complete lines that arrive within `seconds` (sleeps that long once stdin closed)."""
        if self.closed:
            time.sleep(seconds)
            return []
        ready, _, _ = select.select([self.fd], [], [], seconds)
        if not ready:
            return []
        chunk = os.read(self.fd, 4096)
        if not chunk:
            self.closed = True
            return []
        self.pending += chunk
        *lines, self.pending = self.pending.split(b"\n")
        return [line.decode().strip() for line in lines]


def leech(args):
    ses = session(download_limit=args.download_limit, listen=args.listen, dht=args.dht)
    commands = Commands() if args.download_limit or args.linger else None
    if args.source.startswith("magnet:"):
        params = lt.parse_magnet_uri(args.source)
    else:
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(args.source)
    params.save_path = args.save
    handle = ses.add_torrent(params)
    wait_listening(ses)
    add_peers(handle, args.peer)
    end = time.time() + args.timeout
    added = time.time()
    while time.time() < end:
        status = handle.status()
        if status.is_seeding:
            print("DONE", flush=True)
            while args.linger and not commands.closed and time.time() < end:
                commands.wait(0.5)
            return 0
        # A peer added while the torrent was still checking its files is dropped: add again.
        # With no peer yet, look the torrent up on the DHT again: libtorrent's own next lookup
        # is 15 minutes after a first one that found nothing (one lost answer on a loaded
        # machine), and these tests are about finding peers on the DHT, not that interval.
        if status.num_peers == 0 and time.time() - added > 2:
            add_peers(handle, args.peer)
            if args.dht:
                handle.force_dht_announce()
            added = time.time()
        if commands is None:
            time.sleep(0.1)
            continue
        for command in commands.wait(0.1):
            if command == "unlimit":
                ses.apply_settings({"download_rate_limit": 0})
    status = handle.status()
    print("TIMEOUT", status.state, status.progress, status.num_peers, flush=True)
    return 1


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("create")
    c.add_argument("path")
    c.add_argument("out")
    c.add_argument("--tracker", action="append", default=[])
    c.add_argument("--v1-only", action="store_true")
    c.add_argument("--piece-size", type=int, default=0)
    s = sub.add_parser("seed")
    s.add_argument("torrent")
    s.add_argument("save")
    s.add_argument("--peer", action="append", default=[])
    s.add_argument("--timeout", type=float, default=300)
    s.add_argument("--upload-limit", type=int, default=0, help="bytes per second, 0 = none")
    s.add_argument("--listen", default="127.0.0.1")
    s.add_argument("--dht", action="append", default=[], help="HOST:PORT of a DHT node")
    l = sub.add_parser("leech")
    l.add_argument("source")
    l.add_argument("save")
    l.add_argument("--peer", action="append", default=[])
    l.add_argument("--timeout", type=float, default=120)
    l.add_argument("--download-limit", type=int, default=0, help="bytes per second, 0 = none")
    l.add_argument("--linger", action="store_true", help="stay after DONE until stdin closes")
    l.add_argument("--listen", default="127.0.0.1")
    l.add_argument("--dht", action="append", default=[], help="HOST:PORT of a DHT node")
    args = parser.parse_args()
    return {"create": create, "seed": seed, "leech": leech}[args.command](args) or 0


if __name__ == "__main__":
    sys.exit(main())
