#!/usr/bin/env python3
"""Check one tracker announce answer (the body, on stdin): a bencoded dictionary with an integer
`interval` and a `peers` string of compact IPv4 peers (6 bytes each), and no `failure reason`.

    check_announce.py NAME [MIN_PEERS] < body

Prints one line about the answer and exits 0, or prints why it is malformed and exits 1. Used by
the tracker benchmark scripts on one answer of each server, fetched with curl (HTTP) or sent by
hand (UDP answers are not bencoded: udp_check.py checks those).
"""

import sys


class Malformed(Exception):
    pass


def decode(data, at=0):
    """Decode one bencoded value at `at`; returns (value, next offset). Strict: no leading zeros,
    keys are byte strings in sorted order."""
    if at >= len(data):
        raise Malformed("truncated")
    lead = data[at : at + 1]
    if lead == b"i":
        end = data.find(b"e", at)
        if end < 0:
            raise Malformed("unterminated integer")
        text = data[at + 1 : end]
        if not text or text == b"-0" or (text.lstrip(b"-").startswith(b"0") and text.lstrip(b"-") != b"0"):
            raise Malformed(f"bad integer {text!r}")
        return int(text), end + 1
    if lead == b"l":
        at += 1
        items = []
        while data[at : at + 1] != b"e":
            item, at = decode(data, at)
            items.append(item)
        return items, at + 1
    if lead == b"d":
        at += 1
        items = {}
        last = None
        while data[at : at + 1] != b"e":
            key, at = decode(data, at)
            if not isinstance(key, bytes):
                raise Malformed("dictionary key is not a string")
            if last is not None and key <= last:
                raise Malformed(f"dictionary keys out of order at {key!r}")
            last = key
            items[key], at = decode(data, at)
        return items, at + 1
    if lead.isdigit():
        colon = data.find(b":", at)
        if colon < 0:
            raise Malformed("unterminated string length")
        length = int(data[at:colon])
        start = colon + 1
        if start + length > len(data):
            raise Malformed("truncated string")
        return data[start : start + length], start + length
    raise Malformed(f"unexpected byte {lead!r} at {at}")


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else "tracker"
    min_peers = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    body = sys.stdin.buffer.read()
    try:
        value, end = decode(body)
        if end != len(body):
            raise Malformed(f"{len(body) - end} bytes after the dictionary")
        if not isinstance(value, dict):
            raise Malformed("not a dictionary")
        if b"failure reason" in value:
            raise Malformed(f"failure reason: {value[b'failure reason']!r}")
        interval = value.get(b"interval")
        if not isinstance(interval, int) or interval <= 0:
            raise Malformed(f"no positive integer interval: {interval!r}")
        peers = value.get(b"peers")
        if not isinstance(peers, bytes) or len(peers) % 6:
            raise Malformed(f"peers is not a compact IPv4 string: {peers!r}")
        if len(peers) // 6 < min_peers:
            raise Malformed(f"{len(peers) // 6} peers, expected at least {min_peers}")
    except (Malformed, ValueError, IndexError) as error:
        print(f"{name}: malformed announce answer ({error}): {body[:200]!r}", file=sys.stderr)
        sys.exit(1)
    keys = ", ".join(key.decode("latin-1") for key in value)
    print(f"{name}: bencoded dictionary ({keys}), interval {interval}, {len(peers) // 6} compact peers")


if __name__ == "__main__":
    main()
