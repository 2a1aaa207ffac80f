#!/usr/bin/python3
"""One burst of connection attacks for benches/scripts/gateway_soak.sh, from one loopback address.

  attack.py --bind IP --peer HOST:PORT --http HOST:PORT --seconds S
            [--idle N] [--slowloris N] [--reconnects-per-second R]

For S seconds it keeps N idle connections open to the gateway's peer port (they send nothing,
as a client that never finishes its handshake) and N slowloris connections to its HTTP port
(a request head dripped a byte every 2 s that never ends; 0 of either: none), every socket bound to IP (e.g.
127.0.0.2) before connecting. Whenever the gateway closes one (a per-IP cap refusing it at
accept, a handshake or header read timeout), it is opened again: a reconnect loop, paced by a
token bucket of R new connections a second in all so that it cannot spin on a refusal. At the
end it closes everything and prints one line per target:

  ATTACK <peer-idle|http-slowloris> attempts=<connects started> connected=<connects that succeeded>
         failed=<connects that failed> closed=<closed by the gateway after connecting>
         closed_within_1s=<of those, within a second> open_max=<most open at once>
         open_at_end=<open when the burst ended>

Loopback only: IP and both targets must be 127/8 addresses. Its file descriptor limit is
raised to the hard limit (it needs 2 N plus a few).
"""
import argparse
import errno
import ipaddress
import resource
import selectors
import socket
import sys
import time

# Linux: let connect() pick the source port for the whole 4-tuple, not bind() for the address
# alone, so that thousands of reconnects from one address do not run out of ports.
IP_BIND_ADDRESS_NO_PORT = 24
DRIP_EVERY = 2.0
SLOW_HEAD = b"GET /api/stats HTTP/1.1\r\nHost: soak\r\nX-Slow: " + b"a" * 4000


def loopback(address):
    host = address.rsplit(":", 1)[0]
    if not ipaddress.ip_address(host).is_loopback:
        sys.exit("not a loopback address: " + address)
    return address


def endpoint(text):
    host, port = loopback(text).rsplit(":", 1)
    return host, int(port)


class Target:
    """The sockets of one kind (idle or slowloris) to one address, and what happened to them."""

    def __init__(self, name, address, wanted, drip):
        self.name = name
        self.address = address
        self.wanted = wanted
        self.drip = drip
        self.open = {}  # socket -> [connected at (or None while connecting), bytes dripped]
        self.counts = dict(attempts=0, connected=0, failed=0, closed=0, closed_within_1s=0,
                           open_max=0, open_at_end=0)

    def report(self):
        self.counts["open_at_end"] = sum(1 for state in self.open.values() if state[0] is not None)
        fields = " ".join("%s=%d" % item for item in self.counts.items())
        print("ATTACK %s %s" % (self.name, fields), flush=True)


class Burst:
    def __init__(self, bind, targets, rate, seconds):
        self.bind = bind
        self.targets = targets
        self.rate = rate
        self.tokens = float(rate)
        self.refilled = time.monotonic()
        self.end = time.monotonic() + seconds
        self.selector = selectors.DefaultSelector()

    def refill(self):
        now = time.monotonic()
        self.tokens = min(float(self.rate), self.tokens + (now - self.refilled) * self.rate)
        self.refilled = now

    def connect(self, target):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        sock.bind((self.bind, 0))
        sock.setblocking(False)
        target.counts["attempts"] += 1
        code = sock.connect_ex(target.address)
        if code not in (0, errno.EINPROGRESS):
            target.counts["failed"] += 1
            sock.close()
            return
        target.open[sock] = [None, 0]
        self.selector.register(sock, selectors.EVENT_WRITE, target)

    def drop(self, sock, target, by_gateway):
        state = target.open.pop(sock)
        self.selector.unregister(sock)
        sock.close()
        if state[0] is None:
            target.counts["failed"] += 1
        elif by_gateway:
            target.counts["closed"] += 1
            if time.monotonic() - state[0] < 1.0:
                target.counts["closed_within_1s"] += 1

    def on_event(self, sock, target, events):
        state = target.open[sock]
        if state[0] is None:  # the connect finished
            if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                self.drop(sock, target, False)
                return
            state[0] = time.monotonic()
            target.counts["connected"] += 1
            opened = sum(1 for s in target.open.values() if s[0] is not None)
            target.counts["open_max"] = max(target.counts["open_max"], opened)
            self.selector.modify(sock, selectors.EVENT_READ, target)
            return
        if events & selectors.EVENT_READ:
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if not data:  # closed (or reset) by the gateway
                self.drop(sock, target, True)

    def drip(self, target):
        now = time.monotonic()
        for sock, state in list(target.open.items()):
            if state[0] is None or state[1] >= len(SLOW_HEAD):
                continue
            due = int((now - state[0]) / DRIP_EVERY) + 1
            if state[1] >= due:
                continue
            try:
                state[1] += sock.send(SLOW_HEAD[state[1]:state[1] + 1])
            except OSError:
                self.drop(sock, target, True)

    def run(self):
        last_drip = 0.0
        for _ in range(10_000_000):  # bounded; the clock ends it long before
            now = time.monotonic()
            if now >= self.end:
                break
            self.refill()
            # One new connection per target in turn while the bucket lasts.
            for _ in range(self.rate):
                hungry = [t for t in self.targets if len(t.open) < t.wanted]
                if not hungry or self.tokens < len(hungry):
                    break
                for target in hungry:
                    self.tokens -= 1.0
                    self.connect(target)
            if now - last_drip >= 0.5:
                last_drip = now
                for target in self.targets:
                    if target.drip:
                        self.drip(target)
            wait = max(0.0, min(0.05, self.end - time.monotonic()))
            for key, events in self.selector.select(wait):
                if key.fileobj in key.data.open:
                    self.on_event(key.fileobj, key.data, events)
        for target in self.targets:
            target.report()
            for sock in list(target.open):
                self.selector.unregister(sock)
                sock.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bind", required=True)
    parser.add_argument("--peer", required=True, type=endpoint)
    parser.add_argument("--http", required=True, type=endpoint)
    parser.add_argument("--seconds", required=True, type=float)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--slowloris", type=int, default=1000)
    parser.add_argument("--reconnects-per-second", type=int, default=200)
    args = parser.parse_args()
    loopback(args.bind + ":0")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if 2 * (args.idle + args.slowloris) + 64 > hard:
        sys.exit("the file descriptor limit (%d) is too low for %d sockets" %
                 (hard, args.idle + args.slowloris))
    targets = [Target("peer-idle", args.peer, args.idle, False),
               Target("http-slowloris", args.http, args.slowloris, True)]
    targets = [target for target in targets if target.wanted > 0]
    Burst(args.bind, targets, max(1, args.reconnects_per_second), args.seconds).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
