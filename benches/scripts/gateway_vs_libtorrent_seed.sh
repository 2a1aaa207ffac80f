#!/usr/bin/env bash
# Seeding over the peer wire protocol: python3-libtorrent downloads the same torrent from the
# gateway and from a python3-libtorrent seeder, alternately, on loopback.
#
#   benches/scripts/gateway_vs_libtorrent_seed.sh [SIZE_MIB [WORK_DIR]]
#
# Environment (arguments win): SIZE_MIB (the file, default 1024), WORK_DIR (default: a fresh
# mktemp -d, removed at exit; a WORK_DIR you name is kept, with the file and the logs), RUNS
# (measured downloads from each seeder, default 3, after one warm-up download from each),
# TIMEOUT (seconds a download may take, default 600), GATEWAY (the gateway binary; default
# $CARGO_TARGET_DIR/release/gateway or target/release/gateway, built with
# `cargo build --release -p swarmgate-gateway` when missing), GATEWAY_FLAGS (more gateway flags,
# e.g. "--cache-size 2G" to hold the whole file in its piece cache; default none), PERF (1: after
# the runs, one more download from the gateway under `perf record -g` and its top symbols;
# default 0).
#
# The file is uploaded to a fresh gateway (curl -F, default settings: 256 MiB piece cache), whose
# .torrent (v1, 2 MiB pieces) is fetched and stripped of `announce` and `url-list`: the info
# dictionary and so the info-hash are unchanged, but the downloader finds no tracker and no web
# seed, only the one peer it is given. The libtorrent seeder seeds that same .torrent from the
# same file (`lt_peer.py seed`, libtorrent's default settings, plain TCP). The downloader is a
# fresh libtorrent session per download (plain TCP, one peer added with connect_peer), timed from
# adding the torrent to its completion, and every download is compared with the file (cmp). A
# warm-up download from each seeder comes first and is not counted (the gateway's content store
# writes with O_DIRECT, so its first reads come from the disk). The table gives the median MB/s
# (10^6 bytes per second) of each, the seeder's CPU (user + system from /proc, seconds per GB)
# and the downloader's; the gateway's CPU is also split by thread name. The seeder and the
# downloader share the machine's cores. "first byte" is the downloader's own start (libtorrent
# connects to an added peer on its next 500 ms session tick), alike for both seeders, so the table
# also gives the rate from the first byte to the end.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
# shellcheck source=lib.sh
source "$REPO_ROOT/benches/scripts/lib.sh"
SIZE_MIB=${1:-${SIZE_MIB:-1024}}
WORK_DIR=${2:-${WORK_DIR:-}}
RUNS=${RUNS:-3}
TIMEOUT=${TIMEOUT:-600}
PERF=${PERF:-0}
GATEWAY_FLAGS=${GATEWAY_FLAGS:-}

for value in SIZE_MIB RUNS TIMEOUT; do
    case "${!value}" in '' | *[!0-9]* | 0)
        echo "$value must be a positive whole number, not '${!value}'" >&2
        exit 2
        ;;
    esac
done
need curl "apt-get install curl"
need cmp "apt-get install diffutils"
need /usr/bin/python3 "apt-get install python3"
/usr/bin/python3 -c 'import libtorrent' 2>/dev/null || {
    echo "missing python3-libtorrent: install it with 'apt-get install python3-libtorrent'" >&2
    exit 2
}
[ "$PERF" = 0 ] || need perf "apt-get install linux-perf"
LT_PEER="$REPO_ROOT/crates/testkit/support/lt_peer.py"
[ -f "$LT_PEER" ] || fail "no $LT_PEER (the python3-libtorrent test peer)"

use_work_dir swarmgate-gateway-seed-bench
SIZE=$((SIZE_MIB * 1024 * 1024))
TICKS=$(getconf CLK_TCK)

# --- the file -------------------------------------------------------------------------------------
SEED_DIR="$WORK_DIR/seed"
PAYLOAD="$SEED_DIR/payload.bin"
mkdir -p "$SEED_DIR"
if [ "$(stat -c %s "$PAYLOAD" 2>/dev/null || echo 0)" != "$SIZE" ]; then
    say "writing $SIZE_MIB MiB of random bytes"
    head -c "$SIZE" /dev/urandom >"$PAYLOAD.tmp"
    mv "$PAYLOAD.tmp" "$PAYLOAD"
fi
cat "$PAYLOAD" >/dev/null

# --- the downloader -------------------------------------------------------------------------------
LEECH="$WORK_DIR/leech.py"
cat >"$LEECH" <<'PYTHON'
"""Downloads TORRENT into SAVE from the one peer HOST:PORT; prints the seconds from adding the
torrent to the first payload byte and to completion, and this process's CPU seconds."""
import os
import sys
import time

import libtorrent as lt

torrent, save, peer, timeout = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
host, port = peer.rsplit(":", 1)
ses = lt.session({
    "listen_interfaces": "127.0.0.1:0",
    "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    "allow_multiple_connections_per_ip": True, "alert_mask": 0,
    # Plain TCP: the gateway speaks no uTP and no MSE; libtorrent would try both first.
    "enable_outgoing_utp": False, "enable_incoming_utp": False,
    "out_enc_policy": 2, "in_enc_policy": 1,
})
params = lt.add_torrent_params()
params.ti = lt.torrent_info(torrent)
params.save_path = save
params.flags &= ~lt.torrent_flags.auto_managed
params.flags &= ~lt.torrent_flags.paused
cpu = os.times()
start = time.monotonic()
handle = ses.add_torrent(params)
handle.connect_peer((host, int(port)))
dialled = start
first = None
while True:
    status = handle.status()
    now = time.monotonic()
    if first is None and status.total_payload_download > 0:
        first = now - start
    if status.is_seeding:
        break
    if now - start > timeout:
        sys.exit("TIMEOUT after %.0f s: state %s, %.1f %%, %d peers"
                 % (timeout, status.state, 100 * status.progress, status.num_peers))
    # A peer added while the torrent was still being checked is dropped: add it again.
    if status.num_peers == 0 and now - dialled > 2:
        handle.connect_peer((host, int(port)))
        dialled = now
    time.sleep(0.01)
elapsed = time.monotonic() - start
used = os.times()
print("RESULT %.4f %.4f %.3f" % (elapsed, first, (used.user - cpu.user) + (used.system - cpu.system)), flush=True)
PYTHON

cpu_ticks() { # PID: utime + stime in clock ticks
    awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}
thread_ticks() { # PID: one "name ticks" line per thread (threads of one name summed)
    local task
    for task in /proc/"$1"/task/*; do
        awk '{ name = $0; sub(/^[^(]*\(/, "", name); sub(/\) .*$/, "", name); sub(/^.*\) /, "")
               gsub(/ /, "_", name); print name, $12 + $13 }' "$task/stat" 2>/dev/null || true
    done | awk '{ t[$1] += $2 } END { for (n in t) print n, t[n] }'
}

# --- the gateway ----------------------------------------------------------------------------------
# shellcheck disable=SC2086 # the flags split into their words on purpose
start_gateway "$WORK_DIR/gateway-data" "$WORK_DIR/gateway.log" $GATEWAY_FLAGS
say "uploading $SIZE_MIB MiB to the gateway at $GATEWAY_URL"
curl -sS --fail-with-body -F "file=@$PAYLOAD" "$GATEWAY_URL/api/upload" >"$WORK_DIR/upload.json" ||
    fail "the upload failed: $(cat "$WORK_DIR/upload.json")"
TORRENT="$WORK_DIR/payload.torrent"
/usr/bin/python3 - "$WORK_DIR/upload.json" "$TORRENT" <<'PYTHON'
import json
import sys
import urllib.request

import libtorrent as lt

answer = json.load(open(sys.argv[1]))
with urllib.request.urlopen(answer["torrent_url"], timeout=60) as response:
    meta = lt.bdecode(response.read())
for key in (b"announce", b"announce-list", b"url-list"):
    meta.pop(key, None)
open(sys.argv[2], "wb").write(lt.bencode(meta))
info = lt.torrent_info(sys.argv[2])
if str(info.info_hashes().v1) != answer["info_hash"] or info.piece_length() != 2 * 1024 * 1024:
    sys.exit("the stripped torrent is not the gateway's: %s, piece length %d" % (info.info_hashes().v1, info.piece_length()))
PYTHON
PIECE=$(/usr/bin/python3 -c 'import sys, libtorrent as lt; print(lt.torrent_info(sys.argv[1]).piece_length())' "$TORRENT")

# --- the libtorrent seeder, kept alive by an open pipe --------------------------------------------
mkfifo "$WORK_DIR/seed.in"
sleep 100000 >"$WORK_DIR/seed.in" &
PIDS+=("$!")
/usr/bin/python3 "$LT_PEER" seed "$TORRENT" "$SEED_DIR" --timeout 100000 <"$WORK_DIR/seed.in" \
    >"$WORK_DIR/seed.out" 2>"$WORK_DIR/seed.err" &
LT_SEED_PID=$!
PIDS+=("$LT_SEED_PID")
for _ in $(seq 1 1200); do
    grep -q '^READY' "$WORK_DIR/seed.out" 2>/dev/null && break
    kill -0 "$LT_SEED_PID" 2>/dev/null || { cat "$WORK_DIR/seed.out" "$WORK_DIR/seed.err" >&2; fail "the libtorrent seeder exited"; }
    sleep 0.1
done
LT_SEED_PORT=$(sed -n 's/^READY //p' "$WORK_DIR/seed.out")
[ -n "$LT_SEED_PORT" ] || fail "the libtorrent seeder is not seeding after 120 s"

# --- the runs -------------------------------------------------------------------------------------
RESULTS="$WORK_DIR/results.txt"
: >"$RESULTS"
: >"$WORK_DIR/threads.txt"
download() { # seeder run: one timed download, checked; appends to RESULTS when run is 1 or more
    local seeder=$1 run=$2 peer pid out="$WORK_DIR/download" before after threads_before
    case "$seeder" in
    gateway) peer=$GATEWAY_PEER pid=$GATEWAY_PID ;;
    libtorrent) peer="127.0.0.1:$LT_SEED_PORT" pid=$LT_SEED_PID ;;
    esac
    rm -rf "$out"
    mkdir -p "$out"
    before=$(cpu_ticks "$pid")
    [ "$seeder" = gateway ] && threads_before=$(thread_ticks "$pid")
    /usr/bin/python3 "$LEECH" "$TORRENT" "$out" "$peer" "$TIMEOUT" >"$WORK_DIR/leech.out" 2>&1 ||
        { cat "$WORK_DIR/leech.out" >&2; fail "$seeder run $run: the download failed"; }
    after=$(cpu_ticks "$pid")
    local counted=0
    case "$run" in 0 | *[!0-9]*) ;; *) counted=1 ;; esac
    if [ "$seeder" = gateway ] && [ "$counted" = 1 ]; then
        join -a 2 <(echo "$threads_before" | sort) <(thread_ticks "$pid" | sort) |
            awk 'NF == 3 { print $1, $3 - $2 } NF == 2 { print $1, $2 }' >>"$WORK_DIR/threads.txt"
    fi
    cmp -s "$out/payload.bin" "$PAYLOAD" || fail "$seeder run $run: the downloaded file differs"
    read -r _ secs first leech_cpu < <(grep '^RESULT' "$WORK_DIR/leech.out")
    say "$seeder run $run: ${secs}s ($(awk -v s="$secs" -v b="$SIZE" 'BEGIN { printf "%.0f", b / s / 1e6 }') MB/s), first byte after ${first}s, seeder CPU $(awk -v t=$((after - before)) -v hz="$TICKS" 'BEGIN { printf "%.2f", t / hz }')s, downloader CPU ${leech_cpu}s"
    [ "$counted" = 0 ] || echo "$seeder $run $secs $first $((after - before)) $leech_cpu" >>"$RESULTS"
    rm -rf "$out"
}
for run in $(seq 0 "$RUNS"); do
    download gateway "$run"
    download libtorrent "$run"
done

if [ "$PERF" != 0 ]; then
    say "profiling one more download from the gateway (perf record -g)"
    perf record -F 999 -g -p "$GATEWAY_PID" -o "$WORK_DIR/perf.data" 2>"$WORK_DIR/perf.err" &
    PERF_PID=$!
    PIDS+=("$PERF_PID")
    sleep 1
    download gateway profiled
    kill -INT "$PERF_PID"
    wait "$PERF_PID" || true
    forget "$PERF_PID"
    perf report -i "$WORK_DIR/perf.data" --stdio --no-children --percent-limit 1.5 \
        --sort comm,dso,symbol -g none 2>/dev/null | grep -v '^#' | grep -v '^$' >"$WORK_DIR/perf.txt" || true
fi
stop_gateway

# --- the table ------------------------------------------------------------------------------------
echo
echo "Seeding $SIZE_MIB MiB over the peer wire protocol to python3-libtorrent, median of $RUNS runs each (alternated, after a warm-up each)${GATEWAY_FLAGS:+, gateway $GATEWAY_FLAGS}"
echo
echo "| seeder | median s | MB/s | runs MB/s | first byte ms | MB/s after the first byte | seeder CPU s per GB | downloader CPU s per GB |"
echo "|---|---:|---:|---|---:|---:|---:|---:|"
/usr/bin/python3 - "$RESULTS" "$SIZE" "$TICKS" <<'PYTHON'
import statistics
import sys

rows = [line.split() for line in open(sys.argv[1])]
size, ticks = int(sys.argv[2]), int(sys.argv[3])
rates = {}
for seeder in ("gateway", "libtorrent"):
    runs = sorted(([float(x) for x in row[2:]] for row in rows if row[0] == seeder), key=lambda r: r[0])
    secs = statistics.median(r[0] for r in runs)
    rates[seeder] = size / secs / 1e6
    print("| %s | %.2f | %.0f | %s | %.0f | %.0f | %.2f | %.2f |" % (
        seeder, secs, rates[seeder], ", ".join("%.0f" % (size / r[0] / 1e6) for r in runs),
        1000 * statistics.median(r[1] for r in runs),
        statistics.median(size / (r[0] - r[1]) / 1e6 for r in runs),
        statistics.median(r[2] / ticks for r in runs) / (size / 1e9),
        statistics.median(r[3] for r in runs) / (size / 1e9)))
print()
print("gateway / libtorrent: %.1f %% of the median MB/s (goal: at least 100 %%)" % (100 * rates["gateway"] / rates["libtorrent"]))
PYTHON
echo
echo "The gateway's CPU by thread over the $RUNS measured downloads (s per GB):"
echo
awk -v ticks="$TICKS" -v gb="$(awk -v s="$SIZE" -v r="$RUNS" 'BEGIN { print s * r / 1e9 }')" '
    { t[$1] += $2 } END { for (n in t) if (t[n] > 0) printf "%s %.3f\n", n, t[n] / ticks / gb }' \
    "$WORK_DIR/threads.txt" | sort -k2 -rn | awk '{ printf "- %s: %s\n", $1, $2 }'
if [ -s "$WORK_DIR/perf.txt" ]; then
    echo
    echo "perf record -g of one more download from the gateway, symbols over 1.5 % (self time):"
    echo
    sed 's/^/    /' "$WORK_DIR/perf.txt" | head -40
fi
echo
echo "gateway: ${GATEWAY_FLAGS:-default settings} (piece cache 256 MiB unless --cache-size says otherwise)"
echo "torrent: the gateway's own (v1, piece length $PIECE), announce and url-list removed; one peer per download (connect_peer), no tracker, no web seed"
echo "libtorrent: python3-libtorrent $(/usr/bin/python3 -c 'import libtorrent; print(libtorrent.__version__)') as seeder (lt_peer.py seed, default settings) and downloader (plain TCP, a fresh session per download)"
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(uname -sr), load average at the end $(cut -d' ' -f1-3 /proc/loadavg); the seeder and the downloader share them"
