#!/usr/bin/python3
"""Seeds a fresh v1 torrent with python3-libtorrent on 127.0.0.1, for the interop test.

Usage: lt_seed.py WORKDIR SIZE PIECE_LENGTH

Writes SIZE random bytes to WORKDIR/payload.bin, makes a v1-only torrent of it, seeds it with a
session that stays off the network (no DHT, LSD, UPnP, NAT-PMP), prints
"READY <port> <info-hash hex>" once seeding, then seeds until its stdin closes or 120 s pass.
"""
import os
import select
import sys
import time

import libtorrent as lt


def main():
    work, size, piece_length = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    os.makedirs(work, exist_ok=True)
    path = os.path.join(work, "payload.bin")
    with open(path, "wb") as f:
        f.write(os.urandom(size))

    fs = lt.file_storage()
    lt.add_files(fs, path)
    ct = lt.create_torrent(fs, piece_length, flags=lt.create_torrent.v1_only)
    lt.set_piece_hashes(ct, work)
    info = lt.torrent_info(ct.generate())

    ses = lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True,
    })
    params = lt.add_torrent_params()
    params.ti = info
    params.save_path = work
    handle = ses.add_torrent(params)

    deadline = time.time() + 30
    while not (handle.status().is_seeding and ses.listen_port()):
        if time.time() > deadline:
            print("TIMEOUT waiting to seed", flush=True)
            return 1
        time.sleep(0.05)
    print("READY", ses.listen_port(), str(info.info_hashes().v1), flush=True)

    end = time.time() + 120
    while time.time() < end:
        ready, _, _ = select.select([sys.stdin], [], [], 0.5)
        if ready and not sys.stdin.read(1):
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
