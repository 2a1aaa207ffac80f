#!/usr/bin/env bash
# `swarm download` against aria2c and python3-libtorrent as downloaders, on loopback, from one
# python3-libtorrent seeder found through opentracker.
#
#   benches/scripts/download_vs_aria2_libtorrent.sh [SIZE_MIB [WORK_DIR]]
#
# Environment (arguments win): SIZE_MIB (default 2048), WORK_DIR (default: a fresh mktemp -d,
# removed at exit), RUNS (default 3), SWARM_BIN (default: build target/release/swarm), TOOLS
# (default "swarm aria2c libtorrent").
#
# Each tool downloads the same torrent once to warm up, then RUNS times into an empty folder; the
# table gives the median wall time, MB/s (10^6 bytes), CPU seconds per GB (user + system of the
# downloader only) and peak RSS, all from /usr/bin/time. Every run's output is checked against the seeded file
# with cmp, so a fast wrong download cannot win. The seeder and the downloader share the
# machine's cores.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
LT_PEER="$REPO_ROOT/crates/testkit/support/lt_peer.py"
SIZE_MIB=${1:-${SIZE_MIB:-2048}}
WORK_DIR=${2:-${WORK_DIR:-}}
RUNS=${RUNS:-3}
TOOLS=${TOOLS:-"swarm aria2c libtorrent"}

for program in /usr/bin/python3 aria2c opentracker /usr/bin/time cmp; do
    command -v "$program" >/dev/null || { echo "missing $program" >&2; exit 2; }
done
if [ -z "$WORK_DIR" ]; then
    WORK_DIR=$(mktemp -d /tmp/swarm-bench.XXXXXX)
    chmod 755 "$WORK_DIR" # opentracker drops to user nobody and must read the whitelist
    trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK_DIR"' EXIT
else
    mkdir -p "$WORK_DIR"
    trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
fi

if [ -z "${SWARM_BIN:-}" ]; then
    (cd "$REPO_ROOT" && cargo build --release --bin swarm --jobs 2 >&2)
    SWARM_BIN="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release/swarm"
fi

SEED_DIR="$WORK_DIR/seed"
PAYLOAD="$SEED_DIR/payload.bin"
mkdir -p "$SEED_DIR"
if [ "$(stat -c %s "$PAYLOAD" 2>/dev/null || echo 0)" != $((SIZE_MIB * 1024 * 1024)) ]; then
    echo "writing $SIZE_MIB MiB of random bytes" >&2
    head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom >"$PAYLOAD"
fi

# opentracker on a free port, the torrent's hash whitelisted.
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
TRACKER="http://127.0.0.1:$PORT/announce"
TORRENT="$WORK_DIR/payload.torrent"
HASH=$(/usr/bin/python3 "$LT_PEER" create "$PAYLOAD" "$TORRENT" --v1-only --tracker "$TRACKER")
echo "$HASH" >"$WORK_DIR/whitelist"
printf 'listen.tcp_udp 127.0.0.1:%s\naccess.whitelist %s\n' "$PORT" "$WORK_DIR/whitelist" >"$WORK_DIR/opentracker.conf"
opentracker -f "$WORK_DIR/opentracker.conf" >/dev/null 2>&1 &
sleep 0.5

# The seeder, kept alive by an open pipe.
rm -f "$WORK_DIR/seed.in"
mkfifo "$WORK_DIR/seed.in"
sleep 100000 >"$WORK_DIR/seed.in" 2>/dev/null &
/usr/bin/python3 "$LT_PEER" seed "$TORRENT" "$SEED_DIR" --timeout 100000 <"$WORK_DIR/seed.in" >"$WORK_DIR/seed.out" 2>"$WORK_DIR/seed.err" &
for _ in $(seq 1 600); do grep -q READY "$WORK_DIR/seed.out" 2>/dev/null && break; sleep 0.1; done
grep -q READY "$WORK_DIR/seed.out" || { echo "the libtorrent seeder did not start" >&2; exit 1; }
PIECE=$("$SWARM_BIN" show "$TORRENT" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["piece_length"])')

run_tool() { # tool out_dir -> the command line
    case "$1" in
    swarm) echo "$SWARM_BIN download $TORRENT -o $2 -q --bind 127.0.0.1 --port 0 --no-dht" ;;
    aria2c) echo "aria2c -d $2 --seed-time=0 --enable-dht=false --enable-dht6=false --bt-enable-lpd=false --enable-peer-exchange=false --file-allocation=none --summary-interval=0 --console-log-level=error --listen-port=$((PORT + 1)) $TORRENT" ;;
    libtorrent) echo "/usr/bin/python3 $LT_PEER leech $TORRENT $2 --timeout 600" ;;
    esac
}

RESULTS="$WORK_DIR/results.txt"
: >"$RESULTS"
for tool in $TOOLS; do
    # Run 0 is a warm-up, not counted: the first download after the seeder starts is slower for
    # every tool (page cache and socket buffers settling).
    for run in $(seq 0 "$RUNS"); do
        out="$WORK_DIR/out-$tool-$run"
        rm -rf "$out"
        mkdir -p "$out"
        # shellcheck disable=SC2046
        /usr/bin/time -f "%e %U %S %M" -o "$WORK_DIR/time.txt" $(run_tool "$tool" "$out") >/dev/null 2>"$WORK_DIR/err.txt" ||
            { echo "$tool run $run failed:" >&2; cat "$WORK_DIR/err.txt" >&2; exit 1; }
        cmp -s "$out/payload.bin" "$PAYLOAD" || { echo "$tool run $run: output differs" >&2; exit 1; }
        read -r wall user sys rss <"$WORK_DIR/time.txt"
        [ "$run" = 0 ] || echo "$tool $wall $user $sys $rss" >>"$RESULTS"
        echo "$tool run $run: ${wall}s, user ${user}s, sys ${sys}s, peak RSS ${rss} KiB" >&2
        rm -rf "$out"
    done
done

BYTES=$((SIZE_MIB * 1024 * 1024))
echo
echo "| downloader | median s | MB/s | CPU s per GB | peak RSS MiB |"
echo "|---|---:|---:|---:|---:|"
for tool in $TOOLS; do
    grep "^$tool " "$RESULTS" | sort -k2 -n | awk -v n="$RUNS" -v bytes="$BYTES" -v tool="$tool" '
        { wall[NR] = $2; cpu[NR] = $3 + $4; rss[NR] = $5 }
        END {
            m = int((n + 1) / 2)
            printf "| %s | %.2f | %.0f | %.2f | %.1f |\n", tool, wall[m], bytes / wall[m] / 1e6,
                cpu[m] / (bytes / 1e9), rss[m] / 1024
        }'
done
echo
echo "input: $SIZE_MIB MiB, piece length $PIECE, v1 torrent made by python3-libtorrent; $RUNS runs per downloader, median by wall time"
echo "seeder: python3-libtorrent $(/usr/bin/python3 -c 'import libtorrent; print(libtorrent.__version__)') on 127.0.0.1 (plain TCP), peers found through opentracker"
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'); the seeder and the downloader share them"
