#!/usr/bin/env python3
"""Check a BEP 15 tracker by hand, and count the peers it holds.

    udp_check.py wait PORT
    udp_check.py check NAME PORT WHITELIST [MIN_PEERS]

wait: sends connect requests to 127.0.0.1:PORT until one is answered (10 s at most; exit 1 then).

check:
1. connect, then announce the first info-hash of WHITELIST (hex, one a line) as a new leecher
   (port 6881, numwant 50): the answer must be an IPv4 announce answer (action 1, our transaction
   id, an interval above zero, whole 6-byte peers, at least MIN_PEERS of them).
2. scrape every info-hash of WHITELIST, 50 a request (aquatic answers at most 70), and add up seeders + leechers: the peers the
   tracker holds for those torrents (a peer in two torrents counts twice).

Prints `NAME: ...` lines on stderr and, on stdout, one line `peers-held=N` for the script. Exits 1
with the reason on any malformed, missing or error answer. Every wait is bounded (1 s a reply,
3 tries).
"""

import os
import socket
import struct
import sys
import time

PROTOCOL_ID = 0x41727101980


class Bad(Exception):
    pass


def exchange(sock, packet, transaction, action):
    for _ in range(3):
        sock.send(packet)
        try:
            while True:
                data = sock.recv(65536)
                if len(data) >= 8 and struct.unpack_from(">I", data, 4)[0] == transaction:
                    break
        except socket.timeout:
            continue
        got = struct.unpack_from(">I", data, 0)[0]
        if got == 3:
            raise Bad(f"error answer: {data[8:]!r}")
        if got != action:
            raise Bad(f"action {got}, expected {action}")
        return data
    raise Bad("no answer in 3 tries")


def connect(sock):
    transaction = struct.unpack(">I", os.urandom(4))[0]
    data = exchange(sock, struct.pack(">QII", PROTOCOL_ID, 0, transaction), transaction, 0)
    if len(data) < 16:
        raise Bad(f"connect answer of {len(data)} bytes")
    return struct.unpack_from(">Q", data, 8)[0]


def wait(port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(0.1)
    sock.connect(("127.0.0.1", port))
    for _ in range(100):
        transaction = struct.unpack(">I", os.urandom(4))[0]
        try:
            sock.send(struct.pack(">QII", PROTOCOL_ID, 0, transaction))
            data = sock.recv(65536)
            if len(data) >= 16 and struct.unpack_from(">II", data, 0) == (0, transaction):
                return
        except OSError:  # refused (nothing bound yet) or timed out
            time.sleep(0.1)
    print(f"nothing answers a BEP 15 connect on 127.0.0.1:{port} after 10 s", file=sys.stderr)
    sys.exit(1)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "wait":
        wait(int(sys.argv[2]))
        return
    if len(sys.argv) not in (5, 6) or sys.argv[1] != "check":
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    name, port, whitelist = sys.argv[2], int(sys.argv[3]), sys.argv[4]
    min_peers = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    with open(whitelist) as file:
        hashes = [bytes.fromhex(line.strip()) for line in file if line.strip()]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(1.0)
    sock.connect(("127.0.0.1", port))
    try:
        connection = connect(sock)
        transaction = struct.unpack(">I", os.urandom(4))[0]
        peer_id = b"-UDPCHK-" + os.urandom(6).hex().encode()
        request = struct.pack(">QII20s20sQQQIIIiH", connection, 1, transaction, hashes[0], peer_id,
                              0, 1, 0, 2, 0, 0, 50, 6881)
        data = exchange(sock, request, transaction, 1)
        if len(data) < 20 or (len(data) - 20) % 6:
            raise Bad(f"announce answer of {len(data)} bytes (not 20 + 6 x peers)")
        interval, leechers, seeders = struct.unpack_from(">III", data, 8)
        peers = (len(data) - 20) // 6
        if interval == 0:
            raise Bad("interval 0")
        if peers < min_peers:
            raise Bad(f"{peers} peers, expected at least {min_peers}")
        print(f"{name}: UDP announce answer: interval {interval}, {seeders} seeders, {leechers} leechers, "
              f"{peers} peers", file=sys.stderr)

        held = 0
        for start in range(0, len(hashes), 50):
            chunk = hashes[start:start + 50]
            if start % (50 * 500) == 0:
                connection = connect(sock)  # connection ids expire after 2 minutes
            transaction = struct.unpack(">I", os.urandom(4))[0]
            data = exchange(sock, struct.pack(">QII", connection, 2, transaction) + b"".join(chunk),
                            transaction, 2)
            if len(data) != 8 + 12 * len(chunk):
                raise Bad(f"scrape answer of {len(data)} bytes for {len(chunk)} hashes")
            for i in range(len(chunk)):
                seeders, _completed, leechers = struct.unpack_from(">III", data, 8 + 12 * i)
                held += seeders + leechers
        print(f"{name}: scrape of {len(hashes)} torrents: {held} peers held", file=sys.stderr)
        print(f"peers-held={held}")
    except (Bad, OSError) as error:
        print(f"{name}: UDP check failed: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
