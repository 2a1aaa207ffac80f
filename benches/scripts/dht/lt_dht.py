#!/usr/bin/python3
"""python3-libtorrent as a DHT node for benches/scripts/dht_vs_libtorrent.sh, on loopback only.

  lt_dht.py node --listen IP [--bootstrap HOST:PORT]... [--timeout S]
      A session with the DHT on (no torrents), listening on IP:0 (the DHT shares the port).
      Prints "READY <port>", then runs until stdin closes or the timeout; prints its DHT
      statistics from post_dht_stats ("STATS ...") at the end.
  lt_dht.py lookup --listen IP --bootstrap HOST:PORT [--settle S] --hash HEX...
      Joins through the bootstrap nodes, waits S seconds, then for each hash in turn runs
      session.dht_get_peers and counts the get_peers queries it sends for that hash
      (dht_outgoing_get_peers_alert) and the distinct peers it gets (dht_get_peers_reply_alert,
      posted per answer with values) until its DHT log says that traversal is COMPLETED (the
      log line "[N] NEW target: <hex>" names the traversal). Prints "LOOKUP <hex> <queries>
      <peers> <seconds> self=<n>" a hash, n of the queries sent to its own address (a node that
      lists the asker among the closest nodes makes libtorrent query itself). Each lookup may take 15 s at most.

Limits raised for a load test on loopback (the defaults drop almost all of it): the per-IP
query limit (dht_block_ratelimit, 5 a second by default) and the reply quota
(dht_upload_rate_limit, 8,000 B/s by default, which drops replies silently). One node per IP
in the routing table stays libtorrent's default unless --shared-ips is given.
"""
import argparse
import select
import sys
import time

import libtorrent as lt


def session(args, log_packets=False):
    mask = lt.alert.category_t.dht_notification | lt.alert.category_t.dht_operation_notification
    if log_packets:
        mask |= lt.alert.category_t.dht_log_notification
    return lt.session({
        "listen_interfaces": args.listen + ":0",
        "enable_dht": True,
        "dht_bootstrap_nodes": ",".join(args.bootstrap),
        "dht_restrict_routing_ips": not args.shared_ips,
        "dht_restrict_search_ips": not args.shared_ips,
        "dht_block_ratelimit": 1000000,
        "dht_upload_rate_limit": 1000000000,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "alert_mask": mask,
    })


def wait_listening(ses):
    deadline = time.time() + 20
    while not ses.listen_port():
        if time.time() > deadline:
            print("TIMEOUT listening", flush=True)
            sys.exit(1)
        time.sleep(0.02)
    print("READY", ses.listen_port(), flush=True)


def stats(ses):
    ses.post_dht_stats()
    deadline = time.time() + 5
    while time.time() < deadline:
        ses.wait_for_alert(500)
        for alert in ses.pop_alerts():
            if isinstance(alert, lt.dht_stats_alert):
                nodes = sum(b["num_nodes"] for b in alert.routing_table)
                return "STATS routing_nodes=%d" % nodes
    return "STATS none"


def node(args):
    ses = session(args)
    wait_listening(ses)
    end = time.time() + args.timeout
    while time.time() < end:
        ready, _, _ = select.select([sys.stdin], [], [], 0.5)
        if ready and not sys.stdin.read(1):
            break
        ses.pop_alerts()
    print(stats(ses), flush=True)
    return 0


def lookup(args):
    ses = session(args, log_packets=True)
    wait_listening(ses)
    settle_end = time.time() + args.settle
    while time.time() < settle_end:
        ses.wait_for_alert(200)
        ses.pop_alerts()
    print(stats(ses), flush=True)
    own = (args.listen, ses.listen_port())
    for text in args.hash:
        raw = bytes.fromhex(text)
        ses.pop_alerts()
        started = time.time()
        ses.dht_get_peers(lt.sha1_hash(raw))
        traversal, queries, to_self, peers, done = None, 0, 0, set(), False
        while not done and time.time() - started < 15:
            ses.wait_for_alert(200)
            for alert in ses.pop_alerts():
                if isinstance(alert, lt.dht_outgoing_get_peers_alert):
                    if str(alert.info_hash) == text:
                        queries += 1
                        if tuple(alert.endpoint) == own:
                            to_self += 1
                elif isinstance(alert, lt.dht_get_peers_reply_alert):
                    if str(alert.info_hash) == text:
                        peers.update(str(p) for p in alert.peers())
                elif isinstance(alert, lt.dht_log_alert):
                    message = alert.message()
                    if traversal is None and ("NEW target: " + text) in message:
                        traversal = message.split("[", 1)[1].split("]", 1)[0]
                    elif traversal is not None and ("[%s] COMPLETED" % traversal) in message:
                        done = True
        print("LOOKUP %s %d %d %.3f self=%d%s" % (text, queries, len(peers), time.time() - started,
                                                  to_self, "" if done else " TIMEOUT"), flush=True)
    return 0


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("node", "lookup"):
        p = sub.add_parser(name)
        p.add_argument("--listen", required=True)
        p.add_argument("--bootstrap", action="append", default=[])
        p.add_argument("--timeout", type=float, default=600)
        p.add_argument("--shared-ips", action="store_true")
        if name == "lookup":
            p.add_argument("--settle", type=float, default=10)
            p.add_argument("--hash", action="append", default=[])
    args = parser.parse_args()
    return {"node": node, "lookup": lookup}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
