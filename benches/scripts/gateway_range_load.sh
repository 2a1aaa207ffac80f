#!/usr/bin/env bash
# Range downloads under load: 200 concurrent connections (wrk) ask the gateway's
# /api/download/{sha256} for random ranges of one stored file, on loopback; every answer is checked.
#
#   benches/scripts/gateway_range_load.sh [SIZE_MIB [WORK_DIR]]
#
# Environment (arguments win): SIZE_MIB (the stored file, default 300), WORK_DIR (default: a
# fresh mktemp -d, removed at exit; a WORK_DIR you name is kept, with the file, the samples and
# the logs), CONNECTIONS (concurrent downloads, default 200), WRK_THREADS (default 2), WARMUP
# (seconds, default 3), CHECK_DURATION (seconds of the checked run, default 10), DURATION
# (seconds per measured run, default 10), ROUNDS (measured runs, default 3), MIN_RANGE /
# MAX_RANGE (range lengths in bytes, default 16384 / 4194304), SAMPLES (bodies kept per wrk
# thread for the SHA-256 check, default 25), GATEWAY (the gateway binary; default
# $CARGO_TARGET_DIR/release/gateway or target/release/gateway, built with
# `cargo build --release -p swarmgate-gateway` when missing).
#
# The gateway runs with `--requests-per-second 0`: its per-IP limit (200 requests/s, bursts of
# 400, by default) would otherwise answer most of this load, which all comes from 127.0.0.1,
# with 429, and `--max-connections-per-ip 4096`: its cap of 64 connections per address would
# close most of the load's connections at accept. Everything else is the default (256 MiB piece cache, smaller than the file).
#
# The load: every request is `GET /api/download/{sha256}` with one `Range: bytes=a-b`, its length
# uniform in MIN_RANGE..MAX_RANGE and its start uniform over the file, from a fixed seed per wrk
# thread, CONNECTIONS at once. After a warm-up, one checked run: wrk's Lua response() checks
# every answer (status 206, a Content-Range naming the whole size and a range this thread asked
# for and has not had answered yet, a body of exactly that length) and keeps SAMPLES bodies per
# thread (after its first 100 answers), whose SHA-256 the script compares with the same bytes of
# the file. wrk copies every body into Lua for that, which costs it more CPU than the gateway
# spends, so the rates come from ROUNDS measured runs of the same load without response(), where
# wrk counts the bytes (MB/s: 10^6 bytes of body per second, the measured header size taken off)
# and any connect, read, write, timeout or >= 400 status error. Any error, failed check or
# differing sample fails the script. The table gives requests/s, MB/s, median and 99th-percentile
# latency, and the gateway's and wrk's CPU (user + system; 100 % = one core): wrk and the gateway
# share the machine's cores.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
# shellcheck source=lib.sh
source "$REPO_ROOT/benches/scripts/lib.sh"
SIZE_MIB=${1:-${SIZE_MIB:-300}}
WORK_DIR=${2:-${WORK_DIR:-}}
CONNECTIONS=${CONNECTIONS:-200}
WRK_THREADS=${WRK_THREADS:-2}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}
ROUNDS=${ROUNDS:-3}
CHECK_DURATION=${CHECK_DURATION:-10}
MIN_RANGE=${MIN_RANGE:-16384}
MAX_RANGE=${MAX_RANGE:-4194304}
SAMPLES=${SAMPLES:-25}

for value in SIZE_MIB CONNECTIONS WRK_THREADS DURATION CHECK_DURATION WARMUP ROUNDS MIN_RANGE MAX_RANGE SAMPLES; do
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
need python3 "apt-get install python3"

use_work_dir swarmgate-gateway-range-bench

# --- the file -------------------------------------------------------------------------------------
DATA="$WORK_DIR/data.bin"
if [ "$(stat -c %s "$DATA" 2>/dev/null || echo 0)" != "$SIZE" ]; then
    say "writing $SIZE_MIB MiB of random bytes"
    head -c "$SIZE" /dev/urandom >"$DATA.tmp"
    mv "$DATA.tmp" "$DATA"
fi
cat "$DATA" >/dev/null

# --- the wrk script -------------------------------------------------------------------------------
LUA="$WORK_DIR/ranges.lua"
cat >"$LUA" <<'LUA'
-- One random `Range: bytes=a-b` per request; response() checks every answer; done() prints one
-- machine-readable line with wrk's counts and the checks' counts summed over the threads.
local path = os.getenv("BENCH_PATH")
local size = tonumber(os.getenv("BENCH_SIZE"))
local min_length = tonumber(os.getenv("BENCH_MIN"))
local max_length = tonumber(os.getenv("BENCH_MAX"))
local samples = tonumber(os.getenv("BENCH_SAMPLES"))
local sample_dir = os.getenv("BENCH_SAMPLE_DIR")
local threads = {}
local counter = 0
function setup(thread)
    counter = counter + 1
    thread:set("id", counter)
    table.insert(threads, thread)
end
function init(args)
    math.randomseed(7919 * id)
    asked = {}      -- "a-b" -> requests sent and not yet answered
    checked = 0     -- answers that passed every check
    failed = 0      -- answers that did not
    body_bytes = 0  -- body bytes of the checked answers
    kept = 0
    first_failure = ""
end
function request()
    local length = math.random(min_length, max_length)
    local start = math.random(0, size - length)
    local range = start .. "-" .. (start + length - 1)
    asked[range] = (asked[range] or 0) + 1
    return wrk.format("GET", path, { Range = "bytes=" .. range })
end
local function fail(why)
    failed = failed + 1
    if first_failure == "" then first_failure = why end
end
-- Defined only for the checked run: with a response() wrk copies every body into Lua, which
-- costs it several times the gateway's CPU for bodies of megabytes.
if os.getenv("BENCH_CHECK") == "1" then function response(status, headers, body)
    local content_range = headers["Content-Range"] or headers["content-range"] or ""
    local a, b, total = string.match(content_range, "^bytes (%d+)-(%d+)/(%d+)$")
    if status ~= 206 then return fail("status " .. status) end
    if not a or tonumber(total) ~= size then return fail("Content-Range '" .. content_range .. "'") end
    local range = a .. "-" .. b
    if not asked[range] then return fail("an answer for " .. range .. ", which was not asked for") end
    asked[range] = asked[range] > 1 and asked[range] - 1 or nil
    if #body ~= tonumber(b) - tonumber(a) + 1 then
        return fail(range .. ": a body of " .. #body .. " bytes")
    end
    checked = checked + 1
    body_bytes = body_bytes + #body
    if checked > 100 and kept < samples then
        kept = kept + 1
        local f = io.open(sample_dir .. "/" .. id .. "-" .. kept .. "-" .. range .. ".bin", "wb")
        f:write(body)
        f:close()
    end
end end
function done(summary, latency, requests)
    local checked, failed, body_bytes, why = 0, 0, 0, ""
    for _, thread in ipairs(threads) do
        checked = checked + thread:get("checked")
        failed = failed + thread:get("failed")
        body_bytes = body_bytes + thread:get("body_bytes")
        if why == "" then why = thread:get("first_failure") end
    end
    local e = summary.errors
    io.write(string.format(
        "wrk-summary requests=%d bytes=%d micros=%d connect=%d read=%d write=%d timeout=%d status=%d p50=%d p99=%d checked=%d failed=%d body=%d\n",
        summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write, e.timeout,
        e.status, latency:percentile(50), latency:percentile(99), checked, failed, body_bytes))
    if why ~= "" then io.write("first failure: " .. why .. "\n") end
end
LUA

# --- the gateway and the stored file --------------------------------------------------------------
start_gateway "$WORK_DIR/gateway-data" "$WORK_DIR/gateway.log" --requests-per-second 0 \
    --max-connections-per-ip 4096
say "uploading $SIZE_MIB MiB to the gateway at $GATEWAY_URL"
curl -sS --fail-with-body -F "file=@$DATA" "$GATEWAY_URL/api/upload" >"$WORK_DIR/upload.json" ||
    fail "the upload failed: $(cat "$WORK_DIR/upload.json")"
SHA256=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["sha256"])' "$WORK_DIR/upload.json")
[ "$SHA256" = "$(sha256sum "$DATA" | cut -d' ' -f1)" ] || fail "the gateway's sha256 is not the file's"
URL="$GATEWAY_URL/api/download/$SHA256"
CHECK_START=$((SIZE / 3))
CHECK_END=$((SIZE / 3 + MAX_RANGE - 1))
headers=$(curl -sS -D - -o "$WORK_DIR/check.bin" -H "Range: bytes=$CHECK_START-$CHECK_END" "$URL")
echo "$headers" | grep -q '^HTTP/1.1 206' || fail "no 206 for one range: $headers"
echo "$headers" | grep -qi "^content-range: bytes $CHECK_START-$CHECK_END/$SIZE" || fail "wrong Content-Range: $headers"
HEADER_BYTES=$((${#headers} + 1)) # the header block wrk counts in its bytes (CRs included; $() took one LF)
cmp -s "$WORK_DIR/check.bin" <(tail -c +$((CHECK_START + 1)) "$DATA" | head -c "$MAX_RANGE") ||
    fail "the checked range's bytes differ from the file's"

cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$GATEWAY_PID/stat"; }
summary() { sed -n "s/^wrk-summary.* $2=\([0-9]*\).*/\1/p" "$1"; }

# --- the runs -------------------------------------------------------------------------------------
RESULTS="$WORK_DIR/results.txt"
: >"$RESULTS"
TICKS=$(getconf CLK_TCK)
SAMPLE_DIR="$WORK_DIR/samples"
export BENCH_PATH="/api/download/$SHA256" BENCH_SIZE=$SIZE BENCH_MIN=$MIN_RANGE BENCH_MAX=$MAX_RANGE
export BENCH_SAMPLES=$SAMPLES BENCH_SAMPLE_DIR=$SAMPLE_DIR
run_wrk() { # checked|measured seconds out: one wrk run (with the checks: every answer); fails on any error
    local kind=$1 seconds=$2 out=$3 key
    rm -rf "$SAMPLE_DIR"
    mkdir -p "$SAMPLE_DIR"
    BENCH_CHECK=$([ "$kind" = checked ] && echo 1 || echo 0) /usr/bin/time -f "wrk-cpu %U %S" -o "$out.time" \
        wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${seconds}s" --timeout 30s --latency -s "$LUA" "$URL" >"$out"
    grep -q '^wrk-summary' "$out" || { cat "$out" >&2; fail "no summary from wrk"; }
    for key in connect read write timeout status failed; do
        [ "$(summary "$out" "$key")" = 0 ] || { cat "$out" >&2; fail "wrk counted $key errors"; }
    done
    [ "$kind" = checked ] || return 0
    [ "$(summary "$out" checked)" -ge "$(summary "$out" requests)" ] ||
        { cat "$out" >&2; fail "fewer answers checked than wrk counted"; }
    python3 - "$DATA" "$SAMPLE_DIR" >"$out.samples" <<'PYTHON'
import hashlib
import os
import sys

data, folder = sys.argv[1], sys.argv[2]
names = sorted(os.listdir(folder))
with open(data, "rb") as f:
    for name in names:
        start, end = (int(x) for x in name[:-len(".bin")].split("-")[-2:])
        f.seek(start)
        want = hashlib.sha256(f.read(end - start + 1)).hexdigest()
        got = hashlib.sha256(open(os.path.join(folder, name), "rb").read()).hexdigest()
        if want != got:
            sys.exit("sample %s: sha256 %s, the file's bytes %s" % (name, got, want))
print(len(names))
PYTHON
    [ "$(cat "$out.samples")" -gt 0 ] || fail "no body was sampled (fewer than 100 answers per wrk thread?)"
}
record() { # kind out cpu-ticks: one row of RESULTS
    local body answers samples=-
    if [ "$1" = checked ]; then
        answers=$(summary "$2" checked) body=$(summary "$2" body) samples=$(cat "$2.samples")
    else # wrk's byte count, less the headers (measured once: every 206 here has the same header lines)
        answers=$(summary "$2" requests)
        body=$(($(summary "$2" bytes) - answers * HEADER_BYTES))
    fi
    echo "$1 $answers $body $(summary "$2" micros) $3 $(summary "$2" p50) $(summary "$2" p99) $(awk '/^wrk-cpu/ { print $2 + $3 }' "$2.time") $samples" >>"$RESULTS"
}
say "warm-up: ${WARMUP}s"
run_wrk measured "$WARMUP" "$WORK_DIR/warmup.txt"
out="$WORK_DIR/checked.txt"
before=$(cpu_ticks)
run_wrk checked "$CHECK_DURATION" "$out"
after=$(cpu_ticks)
say "checked run: $(summary "$out" checked) answers checked, $(cat "$out.samples") bodies compared by sha256"
record checked "$out" $((after - before))
for round in $(seq 1 "$ROUNDS"); do
    out="$WORK_DIR/run-$round.txt"
    before=$(cpu_ticks)
    run_wrk measured "$DURATION" "$out"
    after=$(cpu_ticks)
    say "measured run $round: $(summary "$out" requests) answers"
    record "measured-$round" "$out" $((after - before))
done
stop_gateway

# --- the table ------------------------------------------------------------------------------------
echo
echo "Gateway range downloads, $SIZE_MIB MiB stored file, random ranges of $MIN_RANGE-$MAX_RANGE bytes, $CONNECTIONS connections, wrk -t$WRK_THREADS, ${DURATION}s per run, --requests-per-second 0"
echo
echo "| run | requests/s | MB/s | p50 ms | p99 ms | gateway CPU | wrk CPU | answers | bodies compared by sha256 | errors |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
awk -v ticks="$TICKS" '{
    secs = $4 / 1e6
    printf "| %s | %.0f | %.0f | %.1f | %.1f | %.0f %% | %.0f %% | %d | %s | 0 |\n", $1, $2 / secs, $3 / secs / 1e6, $6 / 1000, $7 / 1000, 100 * $5 / ticks / secs, 100 * $8 / secs, $2, $9
}' "$RESULTS"
awk '$1 ~ /^measured/ { r += $2 / ($4 / 1e6); b += $3 / $4; n++ }
    END { if (n) printf "\nmeasured runs, mean: %.0f requests/s, %.0f MB/s\n", r / n, b / n }' "$RESULTS"
echo
echo "checked run: every answer 206 with Content-Range bytes a-b/$SIZE for a range asked for and a body of that length, the sampled bodies' SHA-256 equal to the file's bytes; its rate is wrk's (Lua copies every body). measured runs: no Lua response(), wrk's connect/read/write/timeout/status (>= 400) errors must be 0, MB/s = wrk's bytes less $HEADER_BYTES header bytes per answer"
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(uname -sr), load average at the end $(cut -d' ' -f1-3 /proc/loadavg); wrk and the gateway share the cores"
