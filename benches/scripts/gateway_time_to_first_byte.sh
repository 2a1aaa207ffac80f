#!/usr/bin/env bash
# Time to first byte: from the start of an upload to the gateway to the first payload a
# BitTorrent client (python3-libtorrent) receives from the gateway over the peer wire protocol.
#
#   benches/scripts/gateway_time_to_first_byte.sh [SIZES_MIB [WORK_DIR]]
#
# Environment (arguments win): SIZES_MIB (the uploaded files, default "5 300"), WORK_DIR
# (default: a fresh mktemp -d, removed at exit; a WORK_DIR you name is kept, with the logs),
# RUNS (per size and source, default 9), SOURCES (what the client is given, default
# "magnet torrent"), TIMEOUT (seconds a run may take after the upload answer, default 120),
# GATEWAY (the gateway binary; default $CARGO_TARGET_DIR/release/gateway or target/release/gateway,
# built with `cargo build --release -p swarmgate-gateway` when missing).
#
# Each run starts a fresh gateway (free ports, empty data folder) and a libtorrent session that
# is listening before the clock starts. Then, timed from one monotonic clock in the client:
# curl uploads the file (`-F file=@...`, as in the README); as soon as the answer arrives the
# client adds the answer's magnet link without its `ws=` web seed, or (source "torrent") fetches
# `torrent_url` and adds the .torrent with its `url-list` removed, so every byte comes over the
# peer wire protocol. The client finds the gateway through the gateway's own tracker (the
# magnet's `tr=`, the .torrent's announce). It polls the torrent's status every 10 ms and notes
# the first connected peer, the metadata, the first payload byte (total_payload_download > 0),
# the first piece (total_done > 0: libtorrent counts verified pieces, 2 MiB here) and the
# complete download, whose SHA-256 must be the upload answer's. The torrent is added neither
# paused nor auto-managed: an auto-managed torrent waits for libtorrent's next one-second queue
# tick (0.45-0.5 s measured) before it announces, which is the client's delay, not the gateway's.
# The table gives the median of the runs; times are wall clock at the 10 ms polling resolution,
# and the client, curl and the gateway share the machine's cores.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
# shellcheck source=lib.sh
source "$REPO_ROOT/benches/scripts/lib.sh"
SIZES_MIB=${1:-${SIZES_MIB:-5 300}}
WORK_DIR=${2:-${WORK_DIR:-}}
RUNS=${RUNS:-9}
SOURCES=${SOURCES:-magnet torrent}
TIMEOUT=${TIMEOUT:-120}

for number in "$RUNS" "$TIMEOUT" $SIZES_MIB; do
    case "$number" in '' | *[!0-9]* | 0)
        echo "RUNS, TIMEOUT and SIZES_MIB take positive whole numbers, not '$number'" >&2
        exit 2
        ;;
    esac
done
for source in $SOURCES; do
    case "$source" in magnet | torrent) ;; *)
        echo "SOURCES takes magnet and torrent, not '$source'" >&2
        exit 2
        ;;
    esac
done
need curl "apt-get install curl"
need /usr/bin/python3 "apt-get install python3"
/usr/bin/python3 -c 'import libtorrent' 2>/dev/null || {
    echo "missing python3-libtorrent: install it with 'apt-get install python3-libtorrent'" >&2
    exit 2
}

use_work_dir swarmgate-gateway-ttfb

# --- the client -----------------------------------------------------------------------------------
CLIENT="$WORK_DIR/ttfb_client.py"
cat >"$CLIENT" <<'PYTHON'
"""Uploads FILE with curl, adds what the answer names to a libtorrent session, and prints when
each step happened (seconds since the upload started, from one monotonic clock)."""
import hashlib
import json
import re
import subprocess
import sys
import time
import urllib.request

import libtorrent as lt

url, path, source, save, timeout = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
ses = lt.session({
    "listen_interfaces": "127.0.0.1:0",
    "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    "allow_multiple_connections_per_ip": True, "alert_mask": 0,
    # Plain TCP: the gateway speaks no uTP and no MSE; libtorrent would try both first.
    "enable_outgoing_utp": False, "enable_incoming_utp": False,
    "out_enc_policy": 2, "in_enc_policy": 1,
})
deadline = time.monotonic() + 20
while not ses.listen_port():
    if time.monotonic() > deadline:
        sys.exit("libtorrent is not listening after 20 s")
    time.sleep(0.01)

start = time.monotonic()
upload = subprocess.run(["curl", "-sS", "--fail-with-body", "-F", "file=@" + path, url + "/api/upload"],
                        capture_output=True)
answered = time.monotonic() - start
if upload.returncode != 0:
    sys.exit("upload failed: %s %s" % (upload.stderr.decode(), upload.stdout.decode()))
answer = json.loads(upload.stdout)
if source == "magnet":
    params = lt.parse_magnet_uri(re.sub(r"&ws=[^&]*", "", answer["magnet"]))
else:
    with urllib.request.urlopen(answer["torrent_url"], timeout=30) as response:
        meta = lt.bdecode(response.read())
    meta.pop(b"url-list", None)
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(meta)
params.save_path = save
params.flags &= ~lt.torrent_flags.auto_managed
params.flags &= ~lt.torrent_flags.paused
handle = ses.add_torrent(params)

marks = {}
end = time.monotonic() + timeout
while True:
    status = handle.status()
    now = time.monotonic() - start
    if status.num_peers > 0:
        marks.setdefault("peer", now)
    if status.has_metadata:
        marks.setdefault("metadata", now)
    if status.total_payload_download > 0:
        marks.setdefault("byte", now)
    if status.total_done > 0:
        marks.setdefault("piece", now)
    if status.is_seeding:
        marks["complete"] = now
        break
    if time.monotonic() > end:
        print("STALL state=%s peers=%d done=%d marks=%s" % (status.state, status.num_peers, status.total_done, marks),
              flush=True)
        sys.exit(1)
    time.sleep(0.01)

digest = hashlib.sha256()
with open("%s/%s" % (save, handle.torrent_file().name()), "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
        digest.update(block)
if digest.hexdigest() != answer["sha256"]:
    sys.exit("the downloaded file's SHA-256 %s is not the upload's %s" % (digest.hexdigest(), answer["sha256"]))
print("RESULT %.4f %.4f %.4f %.4f %.4f %.4f" % (answered, marks["peer"], marks["metadata"], marks["byte"],
                                                 marks["piece"], marks["complete"]), flush=True)
PYTHON

# --- the runs -------------------------------------------------------------------------------------
RESULTS="$WORK_DIR/results.txt"
: >"$RESULTS"
for size in $SIZES_MIB; do
    file="$WORK_DIR/upload-$size.bin"
    if [ "$(stat -c %s "$file" 2>/dev/null || echo 0)" != $((size * 1024 * 1024)) ]; then
        say "writing $size MiB of random bytes"
        head -c $((size * 1024 * 1024)) /dev/urandom >"$file.tmp"
        mv "$file.tmp" "$file"
    fi
    cat "$file" >/dev/null
    for run in $(seq 1 "$RUNS"); do
        for source in $SOURCES; do
            data="$WORK_DIR/gateway-data"
            save="$WORK_DIR/download"
            rm -rf "$data" "$save"
            mkdir -p "$save"
            start_gateway "$data" "$WORK_DIR/gateway-$size-$run-$source.log"
            out="$WORK_DIR/client-$size-$run-$source.txt"
            if ! /usr/bin/python3 "$CLIENT" "$GATEWAY_URL" "$file" "$source" "$save" "$TIMEOUT" >"$out" 2>&1; then
                cat "$out" >&2
                fail "$size MiB, $source, run $run: no complete download within $TIMEOUT s of the upload answer"
            fi
            stop_gateway
            read -r _ upload peer metadata byte piece complete < <(grep '^RESULT' "$out")
            echo "$size $source $upload $peer $metadata $byte $piece $complete" >>"$RESULTS"
            say "$size MiB, $source, run $run: upload ${upload}s, then first byte +$(awk -v a="$upload" -v b="$byte" 'BEGIN { printf "%.3f", b - a }')s, first piece +$(awk -v a="$upload" -v b="$piece" 'BEGIN { printf "%.3f", b - a }')s, complete +$(awk -v a="$upload" -v b="$complete" 'BEGIN { printf "%.3f", b - a }')s"
        done
    done
done
rm -rf "$WORK_DIR/download" "$WORK_DIR/gateway-data"

# --- the table ------------------------------------------------------------------------------------
echo
echo "Gateway time to first byte, median of $RUNS runs (ms; \"+\" = after the upload answer; a fresh gateway per run)"
echo
echo "| file | client gets | upload | + first peer | + metadata | + first byte | + first piece | upload + first piece | download MB/s after the answer | runs with first piece > 5 s |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
# shellcheck disable=SC2086 # the list splits into its words on purpose
/usr/bin/python3 - "$RESULTS" $SIZES_MIB <<'PYTHON'
import statistics
import sys

rows = [line.split() for line in open(sys.argv[1])]
for size in sys.argv[2:]:
    sources = []
    for row in rows:
        if row[0] == size and row[1] not in sources:
            sources.append(row[1])
    for source in sources:
        runs = [[float(x) for x in row[2:]] for row in rows if row[0] == size and row[1] == source]
        upload = statistics.median(r[0] for r in runs)
        after = [statistics.median(r[i] - r[0] for r in runs) for i in range(1, 6)]
        together = statistics.median(r[4] for r in runs)
        rate = int(size) * 1048576 / after[4] / 1e6
        slow = [r[4] - r[0] for r in runs if r[4] - r[0] > 5]
        print("| %s MiB | %s | %.0f | %s | %.0f | %.0f | %d of %d%s |" % (
            size, source, 1000 * upload, " | ".join("%.0f" % (1000 * a) for a in after[:4]),
            1000 * together, rate, len(slow), len(runs),
            " (%s s)" % ", ".join("%.1f" % t for t in slow) if slow else ""))
PYTHON
echo
echo "upload: curl -F file=@FILE until the answer; \"+\" columns: after the answer, the client adding the magnet (without ws=) or the .torrent (fetched, url-list removed), peers from the gateway's tracker; first byte: total_payload_download > 0; first piece: total_done > 0 (2 MiB verified); complete: SHA-256 checked after"
echo "client: python3-libtorrent $(/usr/bin/python3 -c 'import libtorrent; print(libtorrent.__version__)'), plain TCP, torrent added neither paused nor auto-managed, status polled every 10 ms"
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(uname -sr), load average at the end $(cut -d' ' -f1-3 /proc/loadavg); the gateway, curl and the client share them"
