#!/usr/bin/env bash
# The gateway's Blossom port against its own API (uploads) and against nginx (downloads), on
# loopback, in one run: issue 14's benchmarks.
#
#   benches/scripts/blossom_vs_api_and_nginx.sh [UPLOAD_MIB [WORK_DIR]]
#
# 1. Upload: `PUT /upload` of an UPLOAD_MIB file through Blossom (a kind 24242 token minted by
#    nostr-tools, `t=upload`, `x=<sha256>`, `expiration`) against `POST /api/upload` of a file of
#    the same size through the API (raw body, `X-Filename`), alternating (Blossom first in odd
#    rounds, the API first in even ones), ROUNDS each, one gateway. Every upload is a new file:
#    the first 64 bytes of one random file are rewritten with the server's name and the round
#    before each upload, so no upload is a dedupe hit. The file is in the page cache; curl streams
#    it (`-T`, no `Expect: 100-continue`) and its `time_total` is the figure. Each answer must be
#    201 with the file's sha256 and size. The table gives seconds and MB/s (10^6 bytes per
#    second) of each upload and the gateway's CPU seconds for it (user + system, from the start
#    of the upload to PAUSE seconds after its answer: less noisy than the time on a shared
#    machine), then the medians and Blossom's MB/s as a percentage of the API's.
# 2. GET: `GET /<sha256>` of a GET_MIB blob (uploaded through Blossom) with CONNECTIONS wrk
#    connections, every request the whole blob, against nginx (Debian, `sendfile on`, an
#    unprivileged process on a free loopback port) serving the same file under the same path,
#    alternating, ROUNDS runs of DURATION seconds each after a WARMUP. First curl checks that
#    both answer 200 with the same bytes (sha256, equal to the file's) and that Blossom's answer
#    has the blob's Content-Type and Content-Length. The table gives requests/s, MB/s (wrk's
#    byte count, headers included: a few hundred bytes per 10^8), p50 / p99 latency, the
#    server's CPU (user + system from /proc/PID/stat, nginx's workers summed) and wrk's (from
#    /usr/bin/time; 100 % = one core), then Blossom's rate as a multiple of nginx's.
#
# Environment (arguments win): UPLOAD_MIB (default 1024), WORK_DIR (default: a fresh mktemp -d,
# removed at exit; a WORK_DIR you name is kept, with the files, configs and logs), GET_MIB (the
# blob of the GET part, default 100), ROUNDS (uploads per server and GET runs per server, default
# 3), DURATION (seconds per GET run, default 20), WARMUP (seconds of GETs before the runs of each
# server, default 5), CONNECTIONS (default 64), WRK_THREADS (default 2), PARTS (default
# "upload get"), NGINX_WORKERS (default: nproc), GATEWAY (the gateway binary; default
# $CARGO_TARGET_DIR/release/gateway or target/release/gateway, built with
# `cargo build --release -p swarmgate-gateway` when missing), GATEWAY_FLAGS (more gateway
# flags, e.g. "--cache-size 1G"), NGINX_EXTRA (directives added to nginx's http block, e.g.
# "tcp_nopush on; sendfile_max_chunk 512k;"; default none), NGINX_SENDFILE (default on; off
# for the comparison with nginx copying through user space as the gateway does), PAUSE (seconds
# between two uploads, for the last one's background work to settle, default 3), NODE_DIR (a folder whose node_modules has nostr-tools; default
# bins/gateway/tests/node, filled by `npm ci --prefix bins/gateway/tests/node`).
#
# The gateway runs with its defaults except `--requests-per-second 0` and
# `--uploads-per-minute 0` and `--max-connections-per-ip 4096` (loopback load from one address) and its Blossom port on a free
# loopback port. wrk and the server share the machine's cores (two on the development machine):
# read the CPU columns next to the rates.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
# shellcheck source=lib.sh
source "$REPO_ROOT/benches/scripts/lib.sh"
UPLOAD_MIB=${1:-${UPLOAD_MIB:-1024}}
WORK_DIR=${2:-${WORK_DIR:-}}
GET_MIB=${GET_MIB:-100}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-5}
CONNECTIONS=${CONNECTIONS:-64}
WRK_THREADS=${WRK_THREADS:-2}
PARTS=${PARTS:-"upload get"}
NGINX_WORKERS=${NGINX_WORKERS:-$(nproc)}
NODE_DIR=${NODE_DIR:-$REPO_ROOT/bins/gateway/tests/node}
GATEWAY_FLAGS=${GATEWAY_FLAGS:-}
NGINX_EXTRA=${NGINX_EXTRA:-}
NGINX_SENDFILE=${NGINX_SENDFILE:-on}
PAUSE=${PAUSE:-3}

for value in UPLOAD_MIB GET_MIB ROUNDS DURATION WARMUP CONNECTIONS WRK_THREADS NGINX_WORKERS; do
    case "${!value}" in '' | *[!0-9]* | 0)
        echo "$value must be a positive whole number, not '${!value}'" >&2
        exit 2
        ;;
    esac
done
case "$NGINX_SENDFILE" in on | off) ;; *)
    echo "NGINX_SENDFILE is on or off, not '$NGINX_SENDFILE'" >&2
    exit 2
    ;;
esac
case "$PAUSE" in '' | *[!0-9]*)
    echo "PAUSE must be a whole number of seconds, not '$PAUSE'" >&2
    exit 2
    ;;
esac
for part in $PARTS; do
    case "$part" in upload | get) ;; *)
        echo "PARTS holds 'upload' and/or 'get', not '$part'" >&2
        exit 2
        ;;
    esac
done

need curl "apt-get install curl"
need sha256sum "apt-get install coreutils"
need python3 "apt-get install python3"
need node "apt-get install nodejs"
[ -d "$NODE_DIR/node_modules/nostr-tools" ] || {
    echo "missing nostr-tools in $NODE_DIR: install it with 'npm ci --prefix $NODE_DIR'" >&2
    exit 2
}
case " $PARTS " in *" get "*)
    need wrk "apt-get install wrk"
    need /usr/bin/time "apt-get install time"
    command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || {
        echo "missing nginx: install it with 'apt-get install nginx-light' (or nginx)" >&2
        exit 2
    }
    NGINX=$(command -v nginx || echo /usr/sbin/nginx)
    ;;
esac

use_work_dir swarmgate-blossom-bench
chmod 755 "$WORK_DIR"
TICKS=$(getconf CLK_TCK)

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
json_field() { # file field
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}
cpu_ticks() { # PID...: utime + stime, in clock ticks, summed
    local total=0 pid
    for pid in "$@"; do
        total=$((total + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat")))
    done
    echo "$total"
}

# mint_upload_token SHA256: an `Authorization` value for `PUT /upload` of that blob (kind 24242,
# a fresh key, valid for an hour), signed by nostr-tools as Blossom clients sign them.
mint_upload_token() {
    NODE_DIR=$NODE_DIR node --input-type=module -e '
import { createRequire } from "node:module";
const require = createRequire(process.env.NODE_DIR + "/package.json");
const { finalizeEvent, generateSecretKey } = require("nostr-tools/pure");
const now = Math.floor(Date.now() / 1000);
const event = finalizeEvent({
  kind: 24242,
  created_at: now,
  content: "Upload " + process.argv[1],
  tags: [["t", "upload"], ["x", process.argv[1]], ["expiration", String(now + 3600)]],
}, generateSecretKey());
console.log("Nostr " + Buffer.from(JSON.stringify(event)).toString("base64url"));
' "$1"
}

# start_blossom_gateway NAME: a gateway with a fresh data folder and Blossom on a free port;
# sets BLOSSOM_URL besides start_gateway's variables.
start_blossom_gateway() {
    local port
    port=$(free_port)
    rm -rf "$WORK_DIR/gateway-$1"
    # shellcheck disable=SC2086 # GATEWAY_FLAGS splits into its words on purpose
    start_gateway "$WORK_DIR/gateway-$1" "$WORK_DIR/gateway-$1.log" --requests-per-second 0 \
        --uploads-per-minute 0 --max-connections-per-ip 4096 --blossom-addr "127.0.0.1:$port" \
        $GATEWAY_FLAGS
    BLOSSOM_URL="http://127.0.0.1:$port"
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.1
    done
    fail "the gateway's Blossom port 127.0.0.1:$port does not answer"
}

machine_line() {
    echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(uname -sr), load average at the end $(cut -d' ' -f1-3 /proc/loadavg); the load and the server share the cores"
}

# --- 1. uploads -------------------------------------------------------------------------------------
upload_part() {
    local size=$((UPLOAD_MIB * 1024 * 1024)) data="$WORK_DIR/upload.bin" results="$WORK_DIR/upload-results.txt"
    say "writing $UPLOAD_MIB MiB of random bytes to $data"
    head -c "$size" /dev/urandom >"$data"
    start_blossom_gateway upload
    : >"$results"
    local round server order sha token out status took before after
    for round in $(seq 1 "$ROUNDS"); do
        order="blossom api"
        [ $((round % 2)) = 0 ] && order="api blossom"
        for server in $order; do
            # A new file each time: the first 64 bytes name the server and the round.
            printf '%-64s' "swarmgate bench $server round $round $$" | dd of="$data" conv=notrunc status=none
            cat "$data" >/dev/null
            sha=$(sha256sum "$data" | cut -d' ' -f1)
            out="$WORK_DIR/upload-$round-$server.json"
            if [ "$server" = blossom ]; then token=$(mint_upload_token "$sha"); fi
            before=$(cpu_ticks "$GATEWAY_PID")
            case "$server" in
            blossom)
                took=$(curl -sS -o "$out" -w '%{http_code} %{time_total}' -T "$data" -H "Expect:" \
                    -H "Authorization: $token" -H "Content-Type: application/octet-stream" \
                    "$BLOSSOM_URL/upload")
                ;;
            api)
                took=$(curl -sS -o "$out" -w '%{http_code} %{time_total}' -T "$data" -X POST -H "Expect:" \
                    -H "X-Filename: bench-$round.bin" -H "Content-Type: application/octet-stream" \
                    "$GATEWAY_URL/api/upload")
                ;;
            esac
            status=${took%% *}
            took=${took#* }
            [ "$status" = 201 ] || fail "$server upload $round answered $status: $(cat "$out")"
            [ "$(json_field "$out" sha256)" = "$sha" ] || fail "$server upload $round: a different sha256: $(cat "$out")"
            [ "$(json_field "$out" size)" = "$size" ] || fail "$server upload $round: a different size: $(cat "$out")"
            sleep "$PAUSE" # the CPU column counts what the upload left running after its answer
            after=$(cpu_ticks "$GATEWAY_PID")
            say "round $round: $server upload of $UPLOAD_MIB MiB in $took s"
            echo "$server $round $took $((after - before))" >>"$results"
        done
    done
    stop_gateway
    echo
    echo "Upload of $UPLOAD_MIB MiB ($size bytes, a new file each time), Blossom PUT /upload (kind 24242 token) against POST /api/upload (raw body), one gateway, alternating"
    echo
    echo "| server | round | seconds | MB/s | gateway CPU s |"
    echo "|---|---:|---:|---:|---:|"
    sort -k2,2n -k1,1 "$results" | awk -v size="$size" -v ticks="$TICKS" '{ printf "| %s | %d | %.2f | %.0f | %.2f |\n", $1, $2, $3, size / $3 / 1e6, $4 / ticks }'
    echo
    awk -v size="$size" -v ticks="$TICKS" '
        { t[$1, ++n[$1]] = $3; cpu[$1] += $4 }
        function median(s,   i, j, k, v, m) {
            m = n[s]
            for (i = 1; i <= m; i++) v[i] = t[s, i]
            for (i = 2; i <= m; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { k = v[j]; v[j] = v[j - 1]; v[j - 1] = k }
            return m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
        }
        END {
            b = median("blossom"); a = median("api")
            printf "median: Blossom %.2f s (%.0f MB/s), API %.2f s (%.0f MB/s): Blossom at %.1f %% of the API'"'"'s MB/s (goal: not slower)\n", b, size / b / 1e6, a, size / a / 1e6, 100 * a / b
            printf "gateway CPU per upload, mean: Blossom %.2f s, API %.2f s\n", cpu["blossom"] / n["blossom"] / ticks, cpu["api"] / n["api"] / ticks
        }' "$results"
    machine_line
}

# --- 2. GETs ------------------------------------------------------------------------------------
get_part() {
    local size=$((GET_MIB * 1024 * 1024)) www="$WORK_DIR/www" results="$WORK_DIR/get-results.txt"
    mkdir -p "$www"
    say "writing $GET_MIB MiB of random bytes"
    head -c "$size" /dev/urandom >"$WORK_DIR/blob.bin"
    local sha
    sha=$(sha256sum "$WORK_DIR/blob.bin" | cut -d' ' -f1)
    mv "$WORK_DIR/blob.bin" "$www/$sha"
    chmod 644 "$www/$sha"
    cat "$www/$sha" >/dev/null

    start_blossom_gateway get
    local token status
    token=$(mint_upload_token "$sha")
    status=$(curl -sS -o "$WORK_DIR/get-upload.json" -w '%{http_code}' -T "$www/$sha" -H "Expect:" \
        -H "Authorization: $token" -H "Content-Type: application/octet-stream" "$BLOSSOM_URL/upload")
    [ "$status" = 201 ] || fail "the blob's upload answered $status: $(cat "$WORK_DIR/get-upload.json")"

    local port user=""
    port=$(free_port)
    [ "$(id -u)" = 0 ] && user="user root;"
    mkdir -p "$WORK_DIR/nginx-tmp"
    cat >"$WORK_DIR/nginx.conf" <<NGINX
$user
worker_processes $NGINX_WORKERS;
daemon off;
pid $WORK_DIR/nginx.pid;
error_log $WORK_DIR/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile $NGINX_SENDFILE;
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
        root $www;
    }
}
NGINX
    "$NGINX" -p "$WORK_DIR" -c "$WORK_DIR/nginx.conf" >"$WORK_DIR/nginx.log" 2>&1 &
    local nginx_pid=$!
    PIDS+=("$nginx_pid")
    for _ in $(seq 1 100); do
        kill -0 "$nginx_pid" 2>/dev/null || { cat "$WORK_DIR/nginx.log" >&2; fail "nginx exited at start"; }
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.1
    done
    local nginx_url="http://127.0.0.1:$port"

    # The same bytes from both, and Blossom's headers.
    local server url headers
    for server in blossom nginx; do
        url=$BLOSSOM_URL
        [ "$server" = nginx ] && url=$nginx_url
        headers=$(curl -sS -D - -o "$WORK_DIR/check-$server.bin" "$url/$sha")
        echo "$headers" | grep -q '^HTTP/1.1 200' || fail "$server: no 200 for /$sha: $headers"
        [ "$(sha256sum "$WORK_DIR/check-$server.bin" | cut -d' ' -f1)" = "$sha" ] ||
            fail "$server answered other bytes than the blob's"
        rm -f "$WORK_DIR/check-$server.bin"
        if [ "$server" = blossom ]; then
            echo "$headers" | grep -qi '^content-type: application/octet-stream' ||
                fail "Blossom's Content-Type is not the blob's: $headers"
            echo "$headers" | grep -qi "^content-length: $size" || fail "Blossom's Content-Length is not $size: $headers"
        fi
    done
    say "both answer the blob's $size bytes (sha256 $sha)"

    local lua="$WORK_DIR/whole.lua"
    cat >"$lua" <<'LUA'
-- Whole-blob GETs; done() prints one machine-readable line.
function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "wrk-summary requests=%d bytes=%d micros=%d connect=%d read=%d write=%d timeout=%d status=%d p50=%d p99=%d\n",
        summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write,
        e.timeout, e.status, latency:percentile(50), latency:percentile(99)))
end
LUA
    summary() { sed -n "s/^wrk-summary.* $2=\([0-9]*\).*/\1/p" "$1"; }
    : >"$results"
    local round pids before after out key
    for round in $(seq 1 "$ROUNDS"); do
        for server in blossom nginx; do
            url=$BLOSSOM_URL pids=$GATEWAY_PID
            if [ "$server" = nginx ]; then
                url=$nginx_url
                pids="$nginx_pid $(pgrep -P "$nginx_pid" | tr '\n' ' ')"
            fi
            if [ "$round" = 1 ]; then
                say "warm-up: $server, ${WARMUP}s"
                wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" --timeout 120s -s "$lua" "$url/$sha" >"$WORK_DIR/warmup-$server.txt"
            fi
            out="$WORK_DIR/get-$round-$server.txt"
            # shellcheck disable=SC2086 # the list of pids splits on purpose
            before=$(cpu_ticks $pids)
            /usr/bin/time -f "wrk-cpu %U %S" -o "$out.time" \
                wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 120s --latency -s "$lua" "$url/$sha" >"$out"
            # shellcheck disable=SC2086
            after=$(cpu_ticks $pids)
            grep -q '^wrk-summary' "$out" || { cat "$out" >&2; fail "$server: no summary from wrk"; }
            for key in connect read write timeout status; do
                [ "$(summary "$out" "$key")" = 0 ] || { cat "$out" >&2; fail "$server: wrk counted $key errors"; }
            done
            say "round $round: $server $(summary "$out" requests) answers"
            echo "$server $round $(summary "$out" requests) $(summary "$out" bytes) $(summary "$out" micros) $((after - before)) $(summary "$out" p50) $(summary "$out" p99) $(awk '/^wrk-cpu/ { print $2 + $3 }' "$out.time")" >>"$results"
        done
    done
    stop_gateway
    kill -TERM "$nginx_pid" 2>/dev/null || true
    wait "$nginx_pid" 2>/dev/null || true
    forget "$nginx_pid"

    echo
    echo "GET /<sha256> of a $GET_MIB MiB blob, whole-blob requests, $CONNECTIONS connections, wrk -t$WRK_THREADS, ${DURATION}s per run, Blossom (gateway) against nginx (sendfile $NGINX_SENDFILE), alternating"
    echo
    echo "| server | round | requests/s | MB/s | p50 ms | p99 ms | server CPU | wrk CPU |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    awk -v ticks="$TICKS" '{
        secs = $5 / 1e6
        printf "| %s | %d | %.1f | %.0f | %.0f | %.0f | %.0f %% | %.0f %% |\n", $1, $2, $3 / secs, $4 / secs / 1e6, $7 / 1000, $8 / 1000, 100 * $6 / ticks / secs, 100 * $9 / secs
    }' "$results"
    echo
    awk '{ rate[$1] += $3 / ($5 / 1e6); mbps[$1] += $4 / $5; n[$1]++ }
        END {
            r = (rate["blossom"] / n["blossom"]) / (rate["nginx"] / n["nginx"])
            b = (mbps["blossom"] / n["blossom"]) / (mbps["nginx"] / n["nginx"])
            printf "Blossom / nginx, mean of the rounds: %.2fx the requests/s, %.2fx the MB/s (goal: at least 1.0x)\n", r, b
        }' "$results"
    echo "nginx: $("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), $NGINX_WORKERS workers, sendfile $NGINX_SENDFILE${NGINX_EXTRA:+, $NGINX_EXTRA}"
    machine_line
}

for part in $PARTS; do
    case "$part" in
    upload) upload_part ;;
    get) get_part ;;
    esac
done
