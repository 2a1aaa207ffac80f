#!/usr/bin/env bash
# Web seed serving: `swarm webseed` against nginx (Debian, sendfile on) serving the same file,
# under the same load of many concurrent random range requests (wrk), on loopback, in one run.
#
#   benches/scripts/webseed_vs_nginx.sh [SIZE_MIB [WORK_DIR]]
#
# Environment (arguments win): SIZE_MIB (the file, default 1024), WORK_DIR (default: a fresh
# mktemp -d, removed at exit; a WORK_DIR you name is kept, with the file, configs and logs),
# DURATION (measured seconds per run, default 10), WARMUP (seconds, default 3), ROUNDS (runs of
# each server, alternating, default 2), CONNECTIONS (wrk connections, default 32), WRK_THREADS
# (default 1), MIN_RANGE / MAX_RANGE (range lengths in bytes, default 16384 / 4194304), SERVERS
# (default "nginx swarm"), SWARM (the swarm binary; default target/release/swarm, built with
# `cargo build --release -p swarmgate-swarm` when missing), NGINX_WORKERS (default: nproc),
# NGINX_EXTRA (directives added to nginx's http block, e.g. "tcp_nopush on; sendfile_max_chunk
# 512k;", the best of the variants tried on the development machine; default none).
#
# The load: every request is `GET /data.bin` with one `Range: bytes=a-b`, its length uniform in
# MIN_RANGE..MAX_RANGE, its start uniform over the file, from a fixed seed (the same sequence for
# both servers). Before the runs, curl checks that both answer the same range with 206, the right
# Content-Range and the same bytes (sha256). The file is read once first so both serve from the
# page cache. The table gives requests/s, MB/s (10^6 bytes of body per second, from wrk's byte
# count), median and 99th-percentile latency, and the server's CPU (user + system from
# /proc/PID/stat, nginx's workers summed) and wrk's (user + system from /usr/bin/time; 100 % = one
# core), then swarm's rate as a percentage of nginx's. wrk and the server share the machine's cores: on 2 cores neither gets a core of its
# own, so read the CPU columns next to the rates.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
# shellcheck source=lib.sh
source "$REPO_ROOT/benches/scripts/lib.sh"
SIZE_MIB=${1:-${SIZE_MIB:-1024}}
WORK_DIR=${2:-${WORK_DIR:-}}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}
ROUNDS=${ROUNDS:-2}
CONNECTIONS=${CONNECTIONS:-32}
WRK_THREADS=${WRK_THREADS:-1}
MIN_RANGE=${MIN_RANGE:-16384}
MAX_RANGE=${MAX_RANGE:-4194304}
SERVERS=${SERVERS:-"nginx swarm"}
NGINX_WORKERS=${NGINX_WORKERS:-$(nproc)}
NGINX_EXTRA=${NGINX_EXTRA:-}

for value in SIZE_MIB DURATION WARMUP ROUNDS CONNECTIONS WRK_THREADS MIN_RANGE MAX_RANGE NGINX_WORKERS; do
    case "${!value}" in '' | *[!0-9]* | 0)
        echo "$value must be a positive whole number, not '${!value}'" >&2
        exit 2
        ;;
    esac
done
SIZE=$((SIZE_MIB * 1024 * 1024))
if [ "$MIN_RANGE" -gt "$MAX_RANGE" ] || [ "$MAX_RANGE" -gt "$SIZE" ]; then
    echo "need MIN_RANGE <= MAX_RANGE <= the file's size ($SIZE bytes)" >&2
    exit 2
fi

need wrk "apt-get install wrk"
need curl "apt-get install curl"
need sha256sum "apt-get install coreutils"
need /usr/bin/time "apt-get install time"
case " $SERVERS " in *" nginx "*)
    command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || {
        echo "missing nginx: install it with 'apt-get install nginx-light' (or nginx)" >&2
        exit 2
    }
    NGINX=$(command -v nginx || echo /usr/sbin/nginx)
    ;;
esac

use_work_dir swarmgate-webseed-bench
chmod 755 "$WORK_DIR" # opentracker drops to user nobody and must read the whitelist

# --- the swarm binary ---------------------------------------------------------------------------
case " $SERVERS " in *" swarm "*)
    find_swarm webseed || fail "$SWARM has no 'webseed' subcommand"
    ;;
esac

# --- the file, in the page cache ------------------------------------------------------------------
WWW="$WORK_DIR/www"
DATA="$WWW/data.bin"
mkdir -p "$WWW"
if [ ! -f "$DATA" ] || [ "$(stat -c %s "$DATA")" != "$SIZE" ]; then
    say "writing $SIZE_MIB MiB of random bytes to $DATA"
    head -c "$SIZE" /dev/urandom >"$DATA.tmp"
    mv "$DATA.tmp" "$DATA"
fi
cat "$DATA" >/dev/null
chmod 644 "$DATA"

# --- the wrk script -------------------------------------------------------------------------------
LUA="$WORK_DIR/ranges.lua"
cat >"$LUA" <<'LUA'
-- One random `Range: bytes=a-b` per request; done() prints one machine-readable line.
local path = "/data.bin"
local size = tonumber(os.getenv("BENCH_SIZE"))
local min_length = tonumber(os.getenv("BENCH_MIN"))
local max_length = tonumber(os.getenv("BENCH_MAX"))
local counter = 0
function setup(thread)
    counter = counter + 1
    thread:set("id", counter)
end
function init(args)
    math.randomseed(7919 * id)
end
function request()
    local length = math.random(min_length, max_length)
    local start = math.random(0, size - length)
    return wrk.format("GET", path, { Range = "bytes=" .. start .. "-" .. (start + length - 1) })
end
function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "wrk-summary requests=%d bytes=%d micros=%d connect=%d read=%d write=%d timeout=%d status=%d p50=%d p99=%d\n",
        summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write,
        e.timeout, e.status, latency:percentile(50), latency:percentile(99)))
end
LUA

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_server NAME PORT: starts it in the background, sets SERVER_PID, waits for the port.
start_server() {
    local name=$1 port=$2 log="$WORK_DIR/$1.log"
    case "$name" in
    nginx)
        local user=""
        [ "$(id -u)" = 0 ] && user="user root;"
        cat >"$WORK_DIR/nginx.conf" <<NGINX
$user
worker_processes $NGINX_WORKERS;
daemon off;
pid $WORK_DIR/nginx.pid;
error_log $WORK_DIR/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    keepalive_requests 10000000;
    client_body_temp_path $WORK_DIR/nginx-tmp;
    proxy_temp_path $WORK_DIR/nginx-tmp;
    fastcgi_temp_path $WORK_DIR/nginx-tmp;
    uwsgi_temp_path $WORK_DIR/nginx-tmp;
    scgi_temp_path $WORK_DIR/nginx-tmp;
    default_type application/octet-stream;
    $NGINX_EXTRA
    server {
        listen 127.0.0.1:$port;
        root $WWW;
    }
}
NGINX
        mkdir -p "$WORK_DIR/nginx-tmp"
        "$NGINX" -p "$WORK_DIR" -c "$WORK_DIR/nginx.conf" >"$log" 2>&1 &
        ;;
    swarm)
        "$SWARM" webseed "$DATA" --addr "127.0.0.1:$port" --torrent-out "$WORK_DIR/data.torrent" \
            --piece-length 4M >"$log" 2>&1 &
        ;;
    esac
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    for _ in $(seq 1 600); do
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$log" >&2; fail "$name exited at start"; }
        if [ "$name" = swarm ]; then
            grep -q '^webseed: serving' "$log" && return 0
        else
            (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        fi
        sleep 0.1
    done
    cat "$log" >&2
    fail "$name is not serving on 127.0.0.1:$port after 60 s"
}

stop_server() { # NAME: SIGTERM (nginx: fast shutdown), SIGKILL after 10 s; swarm must exit 0
    local name=$1 status=0
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null && echo "NOTE: $name did not stop on SIGTERM within 10 s" >&2
    wait "$SERVER_PID" 2>/dev/null || status=$?
    local kept=() pid
    for pid in "${PIDS[@]}"; do [ "$pid" = "$SERVER_PID" ] || kept+=("$pid"); done
    PIDS=("${kept[@]}")
    [ "$name" != swarm ] || [ "$status" = 0 ] || echo "NOTE: swarm webseed exited $status on SIGTERM" >&2
}

cpu_ticks() { # NAME: utime + stime of the server (nginx: every worker), in clock ticks
    local pids=$SERVER_PID
    [ "$1" = nginx ] && pids="$SERVER_PID $(pgrep -P "$SERVER_PID" | tr '\n' ' ')"
    local total=0 pid
    for pid in $pids; do
        total=$((total + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat")))
    done
    echo "$total"
}

summary() { sed -n "s/^wrk-summary.* $2=\([0-9]*\).*/\1/p" "$1"; }

# --- the runs -------------------------------------------------------------------------------------
RESULTS="$WORK_DIR/results.txt"
: >"$RESULTS"
TICKS=$(getconf CLK_TCK)
CHECK_RANGE="bytes=$((SIZE / 3))-$((SIZE / 3 + MAX_RANGE - 1))"
export BENCH_SIZE=$SIZE BENCH_MIN=$MIN_RANGE BENCH_MAX=$MAX_RANGE
for round in $(seq 1 "$ROUNDS"); do
    for server in $SERVERS; do
        port=$(free_port)
        url="http://127.0.0.1:$port/data.bin"
        say "round $round: $server on $url"
        start_server "$server" "$port"
        headers=$(curl -s -D - -o "$WORK_DIR/check-$server.bin" -H "Range: $CHECK_RANGE" "$url")
        echo "$headers" | grep -q '^HTTP/1.1 206' || fail "$server: no 206 for $CHECK_RANGE: $headers"
        echo "$headers" | grep -qi "^content-range: bytes $((SIZE / 3))-$((SIZE / 3 + MAX_RANGE - 1))/$SIZE" ||
            fail "$server: wrong Content-Range: $headers"
        sha256sum "$WORK_DIR/check-$server.bin" | cut -d' ' -f1 >"$WORK_DIR/check-$server.sha256"
        wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" -s "$LUA" "$url" >"$WORK_DIR/warmup-$server.txt"
        before=$(cpu_ticks "$server")
        out="$WORK_DIR/run-$round-$server.txt"
        /usr/bin/time -f "wrk-cpu %U %S" -o "$out.time" \
            wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$LUA" "$url" >"$out"
        after=$(cpu_ticks "$server")
        stop_server "$server"
        grep -q '^wrk-summary' "$out" || { cat "$out" >&2; fail "$server: no summary from wrk"; }
        for key in connect read write timeout status; do
            [ "$(summary "$out" "$key")" = 0 ] || { cat "$out" >&2; fail "$server: wrk counted $key errors"; }
        done
        echo "$server $round $(summary "$out" requests) $(summary "$out" bytes) $(summary "$out" micros) $((after - before)) $(summary "$out" p50) $(summary "$out" p99) $(awk '/^wrk-cpu/ { print $2 + $3 }' "$out.time")" >>"$RESULTS"
    done
done

# shellcheck disable=SC2086 # the list splits into its words on purpose
set -- $SERVERS
if [ $# -ge 2 ] && ! cmp -s "$WORK_DIR/check-$1.sha256" "$WORK_DIR/check-$2.sha256"; then
    fail "$1 and $2 sent different bytes for $CHECK_RANGE"
fi

# --- the table ------------------------------------------------------------------------------------
echo
echo "Web seed serving, $SIZE_MIB MiB file, random ranges of $MIN_RANGE-$MAX_RANGE bytes, $CONNECTIONS connections, wrk -t$WRK_THREADS, ${DURATION}s per run"
echo
echo "| server | round | requests/s | MB/s | p50 ms | p99 ms | server CPU | wrk CPU |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
awk -v ticks="$TICKS" '{
    secs = $5 / 1e6
    printf "| %s | %d | %.0f | %.0f | %.1f | %.1f | %.0f %% | %.0f %% |\n", $1, $2, $3 / secs, $4 / secs / 1e6, $7 / 1000, $8 / 1000, 100 * $6 / ticks / secs, 100 * $9 / secs
}' "$RESULTS"
echo
awk '{ rate[$1] += $3 / ($5 / 1e6); mbps[$1] += $4 / $5; n[$1]++ }
    END {
        if (("nginx" in rate) && ("swarm" in rate)) {
            r = (rate["swarm"] / n["swarm"]) / (rate["nginx"] / n["nginx"])
            b = (mbps["swarm"] / n["swarm"]) / (mbps["nginx"] / n["nginx"])
            printf "swarm / nginx, mean of the rounds: %.1f %% of the requests/s, %.1f %% of the MB/s (goal: at least 90 %%)\n", 100 * r, 100 * b
        }
    }' "$RESULTS"
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(uname -sr); wrk and the server share the cores"
if [ -n "${NGINX:-}" ]; then echo "nginx: $("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), $NGINX_WORKERS workers, sendfile on"; fi
