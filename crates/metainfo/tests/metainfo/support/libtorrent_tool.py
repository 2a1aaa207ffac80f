#!/usr/bin/python3
"""libtorrent as an oracle for Swarmgate's metainfo tests and benchmarks.

Run it with Debian's interpreter, /usr/bin/python3: python3-libtorrent (libtorrent 2.0.8) is
importable there and not from another python3 that may come first on PATH.

    /usr/bin/python3 crates/metainfo/tests/metainfo/support/libtorrent_tool.py info FILE.torrent...
    /usr/bin/python3 crates/metainfo/tests/metainfo/support/libtorrent_tool.py create PATH OUT.torrent \
        [--v1-only | --v2-only] [--piece-size BYTES] [--tracker URL]...
    /usr/bin/python3 crates/metainfo/tests/metainfo/support/libtorrent_tool.py check FILE.torrent

info    For each file, one JSON object per line:
          {"file", "ok", "error", "v1", "v2", "num_pieces", "total_size", "num_files",
           "piece_length", "name", "num_pad_files", "content_size"}
        ok is false (and error holds libtorrent's message) when libtorrent refuses the file; then
        every other field but "file" is null. v1 is 40 hex digits or null (v2-only torrent), v2 is
        64 hex digits or null (v1-only torrent). num_files and total_size are libtorrent's view,
        which counts BEP 47 pad files, including the tail pad file libtorrent adds itself to the
        last file of a v2 torrent; num_pad_files counts those and content_size is total_size
        without them. Exit status 0 whatever the verdicts.
create  Makes a torrent of the file or folder PATH with libtorrent and writes it to OUT. The
        default is what libtorrent 2.x makes by default: a hybrid v1+v2 torrent with BEP 47 pad
        files; --v1-only makes a pure v1 torrent, --v2-only a pure v2 one. --piece-size 0 (the
        default) lets libtorrent choose. Prints {"v1": ..., "v2": ...} (hex or null).
check   Like info for one file; exit status 1 if libtorrent refuses it.

Exit status 2 on a usage error or when create fails.

python3-libtorrent 2.0.8 API facts this relies on (checked against the installed module):
  * lt.torrent_info(str) loads a file by path (bytes would be parsed as the bencoded buffer);
    a refused or unreadable file raises RuntimeError with libtorrent's message.
  * ti.info_hashes() is an info_hash_t with has_v1(), has_v2(), .v1 (sha1_hash), .v2 (sha256_hash).
    str() of either hash is its lowercase hex (40 or 64 digits), the same as .to_bytes().hex();
    a missing hash is all zeros (is_all_zeros() is true), so has_v1()/has_v2() decide null.
  * ti.files() is a file_storage: num_files(), file_size(i), file_path(i), and
    file_flags(i) & lt.file_storage.flag_pad_file marks a pad file.
  * lt.create_torrent(fs, piece_size=0, flags=0); flags lt.create_torrent.v1_only (64) and
    lt.create_torrent.v2_only (32). lt.set_piece_hashes(ct, parent_dir) reads the files relative
    to the folder that holds PATH. lt.bencode(ct.generate()) gives the bytes of the .torrent.
"""

import argparse
import json
import os
import sys

try:
    import libtorrent as lt
except ImportError as exc:  # pragma: no cover - depends on the machine
    sys.stderr.write(
        "libtorrent_tool: cannot import libtorrent (%s); run with /usr/bin/python3 "
        "after `apt-get install python3-libtorrent`\n" % exc
    )
    sys.exit(2)


def _hashes(ti):
    ih = ti.info_hashes()
    v1 = ih.v1.to_bytes().hex() if ih.has_v1() else None
    v2 = ih.v2.to_bytes().hex() if ih.has_v2() else None
    return v1, v2


def describe(path):
    """What libtorrent makes of the .torrent at path, as a dict (never raises)."""
    out = {
        "file": path,
        "ok": False,
        "error": None,
        "v1": None,
        "v2": None,
        "num_pieces": None,
        "total_size": None,
        "num_files": None,
        "piece_length": None,
        "name": None,
        "num_pad_files": None,
        "content_size": None,
    }
    try:
        ti = lt.torrent_info(path)
    except RuntimeError as exc:
        out["error"] = str(exc)
        return out
    try:
        v1, v2 = _hashes(ti)
        fs = ti.files()
        pads = [
            fs.file_size(i)
            for i in range(fs.num_files())
            if fs.file_flags(i) & lt.file_storage.flag_pad_file
        ]
        fields = dict(
            ok=True,
            v1=v1,
            v2=v2,
            num_pieces=ti.num_pieces(),
            total_size=ti.total_size(),
            num_files=ti.num_files(),
            piece_length=ti.piece_length(),
            name=ti.name(),
            num_pad_files=len(pads),
            content_size=ti.total_size() - sum(pads),
        )
    except Exception as exc:  # a binding that cannot convert a field, e.g. an undecodable name
        out["error"] = "libtorrent_tool: %s: %s" % (type(exc).__name__, exc)
        return out
    out.update(fields)
    return out


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def cmd_info(args):
    for path in args.files:
        emit(describe(path))
    return 0


def cmd_check(args):
    result = describe(args.torrent)
    emit(result)
    return 0 if result["ok"] else 1


def cmd_create(args):
    src = os.path.abspath(args.path)
    if not os.path.exists(src):
        sys.stderr.write("libtorrent_tool: %s: no such file or folder\n" % args.path)
        return 2
    if args.v1_only and args.v2_only:
        sys.stderr.write("libtorrent_tool: --v1-only and --v2-only exclude each other\n")
        return 2
    n = args.piece_size
    if n != 0 and (n < 16384 or n & (n - 1)):
        sys.stderr.write("libtorrent_tool: --piece-size must be 0 or a power of two >= 16384\n")
        return 2
    flags = 0
    if args.v1_only:
        flags |= lt.create_torrent.v1_only
    if args.v2_only:
        flags |= lt.create_torrent.v2_only
    try:
        fs = lt.file_storage()
        lt.add_files(fs, src)
        if fs.num_files() == 0:
            sys.stderr.write("libtorrent_tool: %s: nothing to add (empty folder?)\n" % args.path)
            return 2
        ct = lt.create_torrent(fs, args.piece_size, flags=flags)
        for tier, url in enumerate(args.tracker or []):
            ct.add_tracker(url, tier)
        lt.set_piece_hashes(ct, os.path.dirname(src))
        data = lt.bencode(ct.generate())
    except RuntimeError as exc:
        sys.stderr.write("libtorrent_tool: create failed: %s\n" % exc)
        return 2
    with open(args.out, "wb") as f:
        f.write(data)
    v1, v2 = _hashes(lt.torrent_info(data))
    emit({"v1": v1, "v2": v2})
    return 0


def main(argv):
    parser = argparse.ArgumentParser(
        prog="libtorrent_tool.py",
        description="libtorrent (python3-libtorrent) as a test oracle: read and make .torrent files.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="print libtorrent's view of each .torrent, one JSON line each")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("check", help="like info for one file; exit 1 if libtorrent refuses it")
    p.add_argument("torrent", metavar="TORRENT")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("create", help="make a .torrent of a file or folder with libtorrent")
    p.add_argument("path", metavar="PATH")
    p.add_argument("out", metavar="OUT")
    p.add_argument("--v1-only", action="store_true", help="pure v1 torrent (no v2, no pad files)")
    p.add_argument("--v2-only", action="store_true", help="pure v2 torrent")
    p.add_argument("--piece-size", type=int, default=0, metavar="N",
                   help="piece length in bytes, a power of two >= 16384 (0: libtorrent chooses)")
    p.add_argument("--tracker", action="append", metavar="URL",
                   help="announce URL (repeat for more tiers)")
    p.set_defaults(func=cmd_create)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
