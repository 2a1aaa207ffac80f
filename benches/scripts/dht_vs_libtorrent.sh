#!/usr/bin/env bash
# The mainline DHT against python3-libtorrent's, on loopback, in the same run (issue 13's goals).
#
#   benches/scripts/dht_vs_libtorrent.sh [SECTIONS [WORK_DIR]]
#
# SECTIONS (default "rate memory lookups download"), any of:
#   rate      get_peers answered per second: `swarm dht node` and a libtorrent session with the
#             DHT on, each under the same load (crates/dht/examples/dht_load.rs: DHT_SOCKETS
#             sockets on 127.0.64-127.0.1, DHT_WINDOW queries in flight each, info-hashes drawn from
#             1,000 of which 250 have 8 stored peers). Each node gets ROUNDS fresh runs,
#             alternating; the table gives the median. Goal: ours >= 1.2x libtorrent.
#   memory    bytes per routing-table node and per stored peer (crates/dht/examples/dht_memory.rs).
#             Goal: <= 64 B per node.
#   lookups   get_peers queries per lookup in a 40-node loopback network of our nodes, by one more
#             node of ours and by libtorrent (crates/dht/examples/dht_lookup_cost.rs with
#             benches/scripts/dht/lt_dht.py). Goal: ours <= 12 where libtorrent sends about 17.
#   download  a 16 MiB magnet download (xt= only) found only through the DHT: `swarm download`
#             against a libtorrent leecher (crates/testkit/support/lt_peer.py), same libtorrent
#             seeder, same bootstrap node (`swarm dht node`), median of RUNS runs each.
#
# Environment (arguments win): SECTIONS, WORK_DIR (default: a fresh mktemp -d, removed at exit; a
# WORK_DIR you name is kept, with every log), DURATION (measured seconds of a rate run, default
# 10), WARMUP (seconds, default 2), ROUNDS (rate runs per node, default 3), DHT_SOCKETS (64),
# DHT_WINDOW (2: 128 queries in flight, where neither node drops any; with 16, 1,024 in flight,
# both nodes' socket receive buffers overflow, a few % of queries are lost, and each loss holds
# its slot for the loader's 500 ms: the rate then measures the losses more than the node), RUNS (downloads per client, default 3), SIZE_MIB (16), SWARM (the swarm
# binary; default $CARGO_TARGET_DIR/release/swarm, built when missing).
#
# Rate limits, said so that the figures compare: our node is bound to loopback, so it runs
# NodeConfig::local_network() (no per-IP query limit); libtorrent gets dht_block_ratelimit
# 1,000,000 queries/s per IP and dht_upload_rate_limit 10^9 B/s (its defaults, 5/s and 8,000 B/s,
# would drop nearly all of this load). Our node's runtime has 2 worker threads; libtorrent's DHT
# runs on its one network thread. The loader (one thread) and the node under test share the
# machine's 2 cores: the CPU columns say who used what.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
# shellcheck source=lib.sh
source "$REPO_ROOT/benches/scripts/lib.sh"
LT_DHT="$REPO_ROOT/benches/scripts/dht/lt_dht.py"
LT_PEER="$REPO_ROOT/crates/testkit/support/lt_peer.py"
SECTIONS=${1:-${SECTIONS:-"rate memory lookups download"}}
WORK_DIR=${2:-${WORK_DIR:-}}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
ROUNDS=${ROUNDS:-3}
DHT_SOCKETS=${DHT_SOCKETS:-64}
DHT_WINDOW=${DHT_WINDOW:-2}
RUNS=${RUNS:-3}
SIZE_MIB=${SIZE_MIB:-16}
for section in $SECTIONS; do
    case "$section" in rate | memory | lookups | download) ;; *)
        echo "unknown section '$section' (rate, memory, lookups, download)" >&2
        exit 2
        ;;
    esac
done
for value in DURATION ROUNDS DHT_SOCKETS DHT_WINDOW RUNS SIZE_MIB; do
    case "${!value}" in '' | *[!0-9]* | 0)
        echo "$value must be a positive whole number, not '${!value}'" >&2
        exit 2
        ;;
    esac
done

need /usr/bin/python3 "apt-get install python3-libtorrent"
/usr/bin/python3 -c 'import libtorrent' 2>/dev/null || fail "python3-libtorrent is missing (apt-get install python3-libtorrent)"
use_work_dir swarmgate-dht-bench
find_swarm dht || fail "$SWARM has no 'dht' subcommand"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
example() { # name: builds the release example once, prints its path
    if [ ! -x "$TARGET_DIR/release/examples/$1" ] || [ -z "${EXAMPLES_BUILT:-}" ]; then
        (cd "$REPO_ROOT" && cargo build --release -p swarmgate-dht --examples --jobs 2 >&2)
        EXAMPLES_BUILT=1
    fi
    echo "$TARGET_DIR/release/examples/$1"
}
udp_rcvbuf_errors() { awk '/^Udp:/ { n++; if (n == 1) for (i = 2; i <= NF; i++) col[$i] = i; else print $col["RcvbufErrors"] }' /proc/net/snmp; }
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
TICKS=$(getconf CLK_TCK)

# start_ours IP NAME [--bootstrap ...]: `swarm dht node` on IP:0; sets NODE_PID, NODE_ADDR.
start_ours() {
    local ip=$1 name=$2
    shift 2
    "$SWARM" dht node --addr "$ip:0" "$@" >"$WORK_DIR/$name.out" 2>"$WORK_DIR/$name.err" &
    NODE_PID=$!
    PIDS+=("$NODE_PID")
    for _ in $(seq 1 100); do
        NODE_ADDR=$(head -1 "$WORK_DIR/$name.out" 2>/dev/null || true)
        case "$NODE_ADDR" in *:*) return 0 ;; esac
        kill -0 "$NODE_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$WORK_DIR/$name.err" >&2
    fail "swarm dht node did not say its address within 10 s"
}

# start_libtorrent IP NAME: lt_dht.py node on IP, kept alive by a fifo; sets NODE_PID, NODE_ADDR.
start_libtorrent() {
    local ip=$1 name=$2 port
    rm -f "$WORK_DIR/$name.in"
    mkfifo "$WORK_DIR/$name.in"
    /usr/bin/python3 "$LT_DHT" node --listen "$ip" --timeout 900 <"$WORK_DIR/$name.in" \
        >"$WORK_DIR/$name.out" 2>"$WORK_DIR/$name.err" &
    NODE_PID=$!
    PIDS+=("$NODE_PID")
    exec {LT_FD}>"$WORK_DIR/$name.in" # the writer end: closing it stops the node
    for _ in $(seq 1 200); do
        port=$(sed -n 's/^READY //p' "$WORK_DIR/$name.out" 2>/dev/null || true)
        [ -n "$port" ] && { NODE_ADDR="$ip:$port"; return 0; }
        kill -0 "$NODE_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$WORK_DIR/$name.err" >&2
    fail "the libtorrent DHT node did not start within 20 s"
}

stop_node() { # kind: SIGTERM ours, close libtorrent's stdin; SIGKILL after 10 s
    if [ "$1" = libtorrent ]; then exec {LT_FD}>&-; else kill -TERM "$NODE_PID" 2>/dev/null || true; fi
    for _ in $(seq 1 100); do kill -0 "$NODE_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$NODE_PID" 2>/dev/null && echo "NOTE: the $1 node did not stop within 10 s" >&2
    wait "$NODE_PID" 2>/dev/null || true
    forget "$NODE_PID"
}

machine() { echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'); everything shares them (loopback, same run)"; }

# --- rate ---------------------------------------------------------------------------------------
section_rate() {
    local load kind round out rows="$WORK_DIR/rate.txt" before after rss
    load=$(example dht_load)
    : >"$rows"
    for round in $(seq 1 "$ROUNDS"); do
        for kind in swarm libtorrent; do
            if [ "$kind" = swarm ]; then start_ours 127.0.3.1 "rate-$kind-$round"; else start_libtorrent 127.0.2.1 "rate-$kind-$round"; fi
            out="$WORK_DIR/rate-$kind-$round.load"
            say "rate round $round: $kind on $NODE_ADDR, ${WARMUP}s warm-up + ${DURATION}s"
            timeout $((DURATION + WARMUP + 300)) "$load" "$NODE_ADDR" --seconds "$DURATION" --warmup "$WARMUP" \
                --sockets "$DHT_SOCKETS" --window "$DHT_WINDOW" >"$out" 2>"$out.err" &
            local load_pid=$!
            PIDS+=("$load_pid")
            for _ in $(seq 1 3000); do grep -q MEASURING "$out.err" 2>/dev/null && break; kill -0 "$load_pid" 2>/dev/null || break; sleep 0.1; done
            before=$(cpu_ticks "$NODE_PID")
            local drops_before
            drops_before=$(udp_rcvbuf_errors)
            local load_child
            load_child=$(awk '{ print $1 }' "/proc/$load_pid/task/$load_pid/children" 2>/dev/null || true)
            local load_before
            load_before=$(cpu_ticks "${load_child:-0}")
            local load_ticks=$load_before
            while kill -0 "$load_pid" 2>/dev/null; do
                load_ticks=$(cpu_ticks "${load_child:-0}" | awk -v l="$load_ticks" '{ print ($1 > l) ? $1 : l }')
                sleep 0.05
            done
            after=$(cpu_ticks "$NODE_PID")
            local drops=$(($(udp_rcvbuf_errors) - drops_before))
            rss=$(awk '/^VmHWM:/ { print $2 }' "/proc/$NODE_PID/status")
            wait "$load_pid" || { cat "$out" "$out.err" >&2; fail "dht_load against $kind failed"; }
            forget "$load_pid"
            stop_node "$kind"
            get() { sed -n "s/^$1=\([0-9.]*\).*/\1/p" "$out"; }
            echo "$kind $round $(get answers_per_second) $(get queries_sent) $(get valid_answers) $(get lost_queries) $(get invalid_answers)" \
                "$(get stored_hashes_with_values) $(get values_per_stored_answer) $((after - before)) $((load_ticks - load_before)) $rss $drops" >>"$rows"
            echo "$kind round $round: $(get answers_per_second) answers/s" >&2
        done
    done
    echo
    echo "### get_peers answered per second (${DURATION}s measured after ${WARMUP}s, $DHT_SOCKETS sockets x $DHT_WINDOW in flight, $ROUNDS rounds)"
    echo
    echo "| node | median answers/s | runs (answers/s) | lost % | invalid | stored hashes answered with values (of 250) | values per answer | node CPU % | node CPU µs per answer | loader CPU % | node peak RSS MiB | UDP receive-buffer drops (host) |"
    echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for kind in swarm libtorrent; do
        awk -v k="$kind" -v ticks="$TICKS" -v secs="$DURATION" 'function median(a, n,   i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t } return a[int((n + 1) / 2)] }
        $1 == k {
                n++; rate[n] = $3; runs = runs (runs ? ", " : "") sprintf("%.0f", $3); sent += $4; ok += $5; lost += $6; bad += $7
                stored = $8; values = $9; cpu += $10; load += $11; if ($12 > rss) rss = $12; drops += $13 }
            END {
                mid = median(rate, n)
                printf "| %s | %.0f | %s | %.2f | %d | %d | %.1f | %.0f | %.1f | %.0f | %.1f | %d |\n", k, mid, runs,
                    100 * lost / sent, bad, stored, values, 100 * cpu / ticks / secs / n, 1e6 * cpu / ticks / ok,
                    100 * load / ticks / secs / n, rss / 1024, drops }' "$rows"
    done
    awk 'function median(a, n,   i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t } return a[int((n + 1) / 2)] }
        { n[$1]++; r[$1, n[$1]] = $3 }
        END {
            for (k in n) { m = n[k]; split("", v); for (i = 1; i <= m; i++) v[i] = r[k, i]; med[k] = median(v, m) }
            if (med["libtorrent"] > 0) printf "\nswarm / libtorrent: %.2fx (goal >= 1.2x)\n", med["swarm"] / med["libtorrent"]
        }' "$rows"
    echo
    echo "load: $load ADDR --seconds $DURATION --warmup $WARMUP --sockets $DHT_SOCKETS --window $DHT_WINDOW (1,000 info-hashes, 250 with 8 peers each);" \
        "swarm: $SWARM dht node --addr 127.0.3.1:0 (NodeConfig::local_network: no per-IP limit);" \
        "libtorrent $(/usr/bin/python3 -c 'import libtorrent; print(libtorrent.__version__)'): $LT_DHT node --listen 127.0.2.1 (dht_block_ratelimit 1000000, dht_upload_rate_limit 1000000000)"
    machine
}

# --- memory -------------------------------------------------------------------------------------
section_memory() {
    local memory
    memory=$(example dht_memory)
    echo
    echo "### memory (\`cargo run --release -p swarmgate-dht --example dht_memory\`)"
    echo
    echo '```'
    "$memory"
    echo '```'
}

# --- lookups ------------------------------------------------------------------------------------
section_lookups() {
    local cost out="$WORK_DIR/lookups.txt"
    cost=$(example dht_lookup_cost)
    say "lookups: 40 nodes, 20 lookups each by ours and by libtorrent"
    timeout 1500 "$cost" --nodes 40 --lookups 20 --settle 10 --libtorrent "$LT_DHT" >"$out" 2>"$WORK_DIR/lookups.err" ||
        { tail -20 "$out" "$WORK_DIR/lookups.err" >&2; fail "dht_lookup_cost failed"; }
    echo
    echo "### get_peers queries per lookup, 40-node loopback network (\`$cost --nodes 40 --lookups 20 --settle 10 --libtorrent $LT_DHT\`)"
    echo
    echo '```'
    grep -E '^(network|ours table|libtorrent table|libtorrent queries to its own|summary)' "$out"
    echo '```'
    machine
}

# --- download -----------------------------------------------------------------------------------
section_download() {
    local seed_dir="$WORK_DIR/dl-seed" torrent="$WORK_DIR/dl.torrent" hash magnet boot run kind start end dir rows="$WORK_DIR/download.txt"
    mkdir -p "$seed_dir"
    head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom >"$seed_dir/payload.bin"
    hash=$(/usr/bin/python3 "$LT_PEER" create "$seed_dir/payload.bin" "$torrent" --v1-only)
    magnet="magnet:?xt=urn:btih:$hash"
    start_ours 127.0.3.1 download-bootstrap
    boot=$NODE_ADDR
    local boot_pid=$NODE_PID
    rm -f "$WORK_DIR/dl-seed.in"
    mkfifo "$WORK_DIR/dl-seed.in"
    /usr/bin/python3 "$LT_PEER" seed "$torrent" "$seed_dir" --listen 127.0.5.1 --dht "$boot" --timeout 1200 \
        <"$WORK_DIR/dl-seed.in" >"$WORK_DIR/dl-seed.out" 2>"$WORK_DIR/dl-seed.err" &
    PIDS+=("$!")
    exec {SEED_FD}>"$WORK_DIR/dl-seed.in"
    for _ in $(seq 1 600); do grep -q READY "$WORK_DIR/dl-seed.out" 2>/dev/null && break; sleep 0.1; done
    grep -q READY "$WORK_DIR/dl-seed.out" || fail "the libtorrent seeder did not start"
    say "download: waiting until the bootstrap node $boot knows the seeder"
    local found=""
    for _ in $(seq 1 12); do
        found=$(timeout 20 "$SWARM" dht get-peers "$hash" --bootstrap "$boot" --timeout 10 2>/dev/null || true)
        [ -n "$found" ] && break
        sleep 1
    done
    [ -n "$found" ] || fail "the seeder's announce never reached the DHT"
    : >"$rows"
    for run in $(seq 1 "$RUNS"); do
        for kind in swarm libtorrent; do
            dir="$WORK_DIR/dl-$kind-$run"
            rm -rf "$dir"
            mkdir -p "$dir"
            say "download run $run: $kind"
            start=$(date +%s.%N)
            if [ "$kind" = swarm ]; then
                timeout 180 "$SWARM" download "$magnet" -o "$dir" -q --bind 127.0.6.1 --port 0 --dht-bootstrap "$boot" \
                    >"$dir.log" 2>&1 || { cat "$dir.log" >&2; fail "swarm download failed"; }
            else
                timeout 180 /usr/bin/python3 "$LT_PEER" leech "$magnet" "$dir" --listen 127.0.7.1 --dht "$boot" --timeout 170 \
                    >"$dir.log" 2>&1 || { cat "$dir.log" >&2; fail "the libtorrent leecher failed"; }
            fi
            end=$(date +%s.%N)
            local got
            got=$(find "$dir" -name payload.bin | head -1)
            cmp -s "$got" "$seed_dir/payload.bin" || fail "$kind downloaded different bytes"
            echo "$kind $run $(echo "$end - $start" | bc)" >>"$rows"
            echo "$kind run $run: $(tail -1 "$rows" | awk '{ print $3 }') s" >&2
        done
    done
    exec {SEED_FD}>&-
    NODE_PID=$boot_pid
    stop_node swarm
    echo
    echo "### $SIZE_MIB MiB magnet download found only through the DHT (xt= only, $RUNS runs each, alternating)"
    echo
    echo "| client | median s | runs (s) |"
    echo "|---|---:|---|"
    for kind in swarm libtorrent; do
        awk -v k="$kind" 'function median(a, n,   i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t } return a[int((n + 1) / 2)] }
        $1 == k { n++; t[n] = $3; runs = runs (runs ? ", " : "") sprintf("%.2f", $3) }
            END { printf "| %s | %.2f | %s |\n", k, median(t, n), runs }' "$rows"
    done
    echo
    echo "swarm: $SWARM download MAGNET -o DIR -q --bind 127.0.6.1 --port 0 --dht-bootstrap $boot;" \
        "libtorrent: lt_peer.py leech MAGNET DIR --listen 127.0.7.1 --dht $boot; seeder: lt_peer.py seed --listen 127.0.5.1 --dht $boot;" \
        "bootstrap: swarm dht node --addr 127.0.3.1:0; wall time of the whole process, start-up included"
    machine
}

for section in $SECTIONS; do "section_$section"; done
