#!/usr/bin/env bash
# Time from the gateway's upload answer to its NIP-35 kind 2003 announcement reaching a
# subscriber through a separate relay process, on loopback: issue 14's last benchmark.
#
#   benches/scripts/nostr_announce_latency.sh [UPLOADS [WORK_DIR]]
#
# 1. Starts PyPI's nostr-relay 1.14 (Python; sqlite storage in WORK_DIR, the config of the
#    gateway's end-to-end test `nostr_interop.rs`, `serve --use-uvicorn`) on a free loopback port
#    and waits until the port accepts connections.
# 2. Starts the gateway (`start_gateway` in lib.sh) with `--nostr-relay ws://127.0.0.1:PORT`,
#    `--nostr-key KEY` (NOSTR_KEY, else a fresh `openssl rand -hex 32`), `--requests-per-second 0
#    --uploads-per-minute 0`, and waits until its /api/p2p/stats shows the relay connected.
# 3. Starts announce_subscriber.mjs (nostr/, nostr-tools and ws from NODE_DIR): it holds a REQ for
#    the gateway's kind 2003 events before the first upload (it says `ready` after EOSE) and
#    prints, for each event, its `x` tag (the v1 info-hash) and Date.now() in ms at `onevent`
#    (after nostr-tools has verified the id and signature, as for any of its clients).
# 4. Uploads WARMUP + UPLOADS distinct random files of SIZE_KIB KiB (written before the first
#    upload, so they are in the page cache), one at a time, PAUSE_MS apart: `curl -T FILE -X POST
#    .../api/upload` with `X-Filename`. The wall clock (bash's EPOCHREALTIME: microseconds, no
#    fork) is read just before curl starts and right after it returns. The moment curl read the
#    answer lies between two estimates, and the table gives both: "curl returned" is late by
#    curl's exit, so (event - it) is a lower bound of the latency; "curl start + time_total"
#    (curl's own transfer time) is early by curl's start-up (exec, loading libcurl), so (event -
#    it) is an upper bound. Under strace, curl 7.88 exits 0.4-0.8 ms after its last recvfrom and
#    needs 6-17 ms from execve to connect: the lower bound is the near one. (curl's --trace-time
#    cannot serve: it puts the sub-second part of a monotonic clock on a whole-second offset, off
#    by up to 1 s.) Nothing else runs between the uploads (answers are read after the last one).
#    Each answer must be 201.
# 5. Waits (at most TIMEOUT s after the last upload) until the subscriber has every event, joins
#    events and answers by info-hash, and prints min, median, p90, p99 (nearest rank) and max of
#    (event received - upload answered) over the UPLOADS measured ones, and how many arrived:
#    all must, or the script fails. Then it checks the gateway's counters: every kind 2003 and
#    1063 event acknowledged (OK true) by the relay, none rejected.
#
# Environment (arguments win): UPLOADS (measured uploads, default 50), WORK_DIR (default: a fresh
# mktemp -d, removed at exit; a WORK_DIR you name is kept, with the files, answers, the joined
# latencies, the logs and the relay's venv), WARMUP (uploads before the measured ones, whose
# events must arrive too, default 2), SIZE_KIB (default 64), PAUSE_MS (between two uploads,
# default 200), TIMEOUT (seconds after the last upload for the events, default 30),
# NOSTR_RELAY_PROGRAM (the `nostr-relay` program; default: WORK_DIR/nostr-relay-venv/bin/
# nostr-relay, made with `/usr/bin/python3 -m venv` and `pip install nostr-relay==1.14` when
# missing), NOSTR_KEY (the gateway's key, 64 hex characters; default a fresh random one),
# NODE_DIR (a folder whose node_modules has nostr-tools and ws; default bins/gateway/tests/node,
# filled by `npm ci --prefix bins/gateway/tests/node`), GATEWAY (the gateway binary; default
# $CARGO_TARGET_DIR/release/gateway or target/release/gateway, built with
# `cargo build --release -p swarmgate-gateway` when missing), GATEWAY_FLAGS (more gateway flags).
#
# The gateway, the relay, the subscriber and curl share the machine's cores (two on the
# development machine): a build or test run beside it shows in the tail (p99, max) first.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
# shellcheck source=lib.sh
source "$REPO_ROOT/benches/scripts/lib.sh"
UPLOADS=${1:-${UPLOADS:-50}}
WORK_DIR=${2:-${WORK_DIR:-}}
WARMUP=${WARMUP:-2}
SIZE_KIB=${SIZE_KIB:-64}
PAUSE_MS=${PAUSE_MS:-200}
TIMEOUT=${TIMEOUT:-30}
NODE_DIR=${NODE_DIR:-$REPO_ROOT/bins/gateway/tests/node}
NOSTR_KEY=${NOSTR_KEY:-}
NOSTR_RELAY_PROGRAM=${NOSTR_RELAY_PROGRAM:-}
GATEWAY_FLAGS=${GATEWAY_FLAGS:-}

for value in UPLOADS SIZE_KIB TIMEOUT; do
    case "${!value}" in '' | *[!0-9]* | 0)
        echo "$value must be a positive whole number, not '${!value}'" >&2
        exit 2
        ;;
    esac
done
for value in WARMUP PAUSE_MS; do
    case "${!value}" in '' | *[!0-9]*)
        echo "$value must be a whole number, not '${!value}'" >&2
        exit 2
        ;;
    esac
done
if [ -n "$NOSTR_KEY" ] && ! [[ "$NOSTR_KEY" =~ ^[0-9a-fA-F]{64}$ ]]; then
    echo "NOSTR_KEY must be 64 hex characters" >&2
    exit 2
fi

need curl "apt-get install curl"
need python3 "apt-get install python3"
need node "apt-get install nodejs"
[ -n "$NOSTR_KEY" ] || need openssl "apt-get install openssl"
for module in nostr-tools ws; do
    [ -d "$NODE_DIR/node_modules/$module" ] || {
        echo "missing $module in $NODE_DIR: install it with 'npm ci --prefix $NODE_DIR'" >&2
        exit 2
    }
done

use_work_dir swarmgate-nostr-latency
if [ -z "$NOSTR_RELAY_PROGRAM" ]; then
    NOSTR_RELAY_PROGRAM="$WORK_DIR/nostr-relay-venv/bin/nostr-relay"
    if [ ! -x "$NOSTR_RELAY_PROGRAM" ]; then
        [ -x /usr/bin/python3 ] || fail "no /usr/bin/python3 for the relay's venv (or set NOSTR_RELAY_PROGRAM)"
        say "installing nostr-relay 1.14 in $WORK_DIR/nostr-relay-venv"
        /usr/bin/python3 -m venv "$WORK_DIR/nostr-relay-venv"
        "$WORK_DIR/nostr-relay-venv/bin/pip" install --quiet --disable-pip-version-check \
            nostr-relay==1.14 </dev/null >&2
    fi
fi
[ -x "$NOSTR_RELAY_PROGRAM" ] || fail "no nostr-relay program at $NOSTR_RELAY_PROGRAM"
[ -n "$NOSTR_KEY" ] || NOSTR_KEY=$(openssl rand -hex 32)

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
stop_process() { # PID: SIGTERM, SIGKILL after 10 s, reaped
    kill -TERM "$1" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    forget "$1"
}

# --- 1. the relay -------------------------------------------------------------------------------
RELAY_PORT=$(free_port)
RELAY_URL="ws://127.0.0.1:$RELAY_PORT"
rm -f "$WORK_DIR/relay.sqlite3"
cat >"$WORK_DIR/relay.yaml" <<YAML
DEBUG: false
relay_name: swarmgate latency bench relay
storage:
  sqlalchemy.url: sqlite+aiosqlite:///$WORK_DIR/relay.sqlite3
  validators:
    - nostr_relay.validators.is_signed
    - nostr_relay.validators.is_recent
gunicorn:
  bind: 127.0.0.1:$RELAY_PORT
  workers: 1
  loglevel: warning
authentication:
  enabled: false
YAML
say "starting nostr-relay on $RELAY_URL"
"$NOSTR_RELAY_PROGRAM" -c "$WORK_DIR/relay.yaml" serve --use-uvicorn >"$WORK_DIR/relay.log" 2>&1 &
RELAY_PID=$!
PIDS+=("$RELAY_PID")
for attempt in $(seq 1 600); do
    kill -0 "$RELAY_PID" 2>/dev/null || { cat "$WORK_DIR/relay.log" >&2; fail "nostr-relay exited at start"; }
    port_open "$RELAY_PORT" && break
    [ "$attempt" = 600 ] && { cat "$WORK_DIR/relay.log" >&2; fail "nostr-relay did not listen within 60 s"; }
    sleep 0.1
done

# --- 2. the gateway -----------------------------------------------------------------------------
rm -rf "$WORK_DIR/gateway"
# shellcheck disable=SC2086 # GATEWAY_FLAGS splits into its words on purpose
start_gateway "$WORK_DIR/gateway" "$WORK_DIR/gateway.log" --requests-per-second 0 \
    --uploads-per-minute 0 --nostr-relay "$RELAY_URL" --nostr-key "$NOSTR_KEY" $GATEWAY_FLAGS
nostr_stats() { # python-expression over `n` (the stats' nostr part): prints its value
    curl -sS --max-time 5 "$GATEWAY_URL/api/p2p/stats" |
        python3 -c 'import json, sys; n = json.load(sys.stdin)["nostr"]; print(eval(sys.argv[1]))' "$1"
}
for attempt in $(seq 1 300); do
    [ "$(nostr_stats 'n["relays"][0]["state"]')" = connected ] && break
    [ "$attempt" = 300 ] && fail "the gateway did not connect to $RELAY_URL within 30 s: $(nostr_stats n)"
    sleep 0.1
done
PUBKEY=$(nostr_stats 'n["pubkey"]')
say "gateway $GATEWAY_URL connected to the relay, pubkey $PUBKEY"

# --- 3. the subscriber --------------------------------------------------------------------------
TOTAL=$((WARMUP + UPLOADS))
EVENTS="$WORK_DIR/events.txt"
SUBSCRIBER_SECONDS=$((TOTAL * (5 + PAUSE_MS / 1000) + TIMEOUT + 30))
NODE_DIR=$NODE_DIR node "$REPO_ROOT/benches/scripts/nostr/announce_subscriber.mjs" "$RELAY_URL" \
    "$PUBKEY" "$TOTAL" "$SUBSCRIBER_SECONDS" >"$EVENTS" 2>"$WORK_DIR/subscriber.log" &
SUBSCRIBER_PID=$!
PIDS+=("$SUBSCRIBER_PID")
for attempt in $(seq 1 300); do
    grep -qx ready "$EVENTS" && break
    kill -0 "$SUBSCRIBER_PID" 2>/dev/null || { cat "$WORK_DIR/subscriber.log" >&2; fail "the subscriber exited before EOSE"; }
    [ "$attempt" = 300 ] && fail "the subscriber had no EOSE from the relay within 30 s"
    sleep 0.1
done
say "subscriber ready"

# --- 4. the uploads -----------------------------------------------------------------------------
mkdir -p "$WORK_DIR/files" "$WORK_DIR/answers"
for i in $(seq 1 "$TOTAL"); do head -c $((SIZE_KIB * 1024)) /dev/urandom >"$WORK_DIR/files/$i.bin"; done
cat "$WORK_DIR"/files/*.bin >/dev/null
UPLOADED="$WORK_DIR/uploads.txt"
: >"$UPLOADED"
PAUSE_SECONDS=$(printf '%d.%03d' $((PAUSE_MS / 1000)) $((PAUSE_MS % 1000)))
say "uploading $WARMUP + $UPLOADS files of $SIZE_KIB KiB, ${PAUSE_MS} ms apart"
for i in $(seq 1 "$TOTAL"); do
    before=$EPOCHREALTIME
    took=$(curl -sS -o "$WORK_DIR/answers/$i.json" -w '%{http_code} %{time_total}' -T "$WORK_DIR/files/$i.bin" \
        -X POST -H "Expect:" -H "X-Filename: latency-$i.bin" -H "Content-Type: application/octet-stream" \
        "$GATEWAY_URL/api/upload")
    after=$EPOCHREALTIME
    [ "${took%% *}" = 201 ] || fail "upload $i answered ${took%% *}: $(cat "$WORK_DIR/answers/$i.json")"
    echo "$i $before ${took#* } $after" >>"$UPLOADED"
    sleep "$PAUSE_SECONDS"
done
LAST_UPLOAD=$(date +%s)

# --- 5. the events, joined ----------------------------------------------------------------------
status=0
while kill -0 "$SUBSCRIBER_PID" 2>/dev/null && [ $(($(date +%s) - LAST_UPLOAD)) -lt "$TIMEOUT" ]; do sleep 0.1; done
if kill -0 "$SUBSCRIBER_PID" 2>/dev/null; then
    stop_process "$SUBSCRIBER_PID"
    status=timeout
else
    wait "$SUBSCRIBER_PID" || status=$?
    forget "$SUBSCRIBER_PID"
fi
[ "$status" = 0 ] || echo "NOTE: the subscriber ended with '$status': $(cat "$WORK_DIR/subscriber.log")" >&2

# Every kind 2003 and kind 1063 event acknowledged by the relay (bounded: it may still be sending).
for attempt in $(seq 1 100); do
    [ "$(nostr_stats 'n["relays"][0]["acknowledged"]')" = $((2 * TOTAL)) ] && break
    [ "$attempt" = 100 ] && echo "NOTE: the relay did not acknowledge all $((2 * TOTAL)) events within 10 s" >&2
    sleep 0.1
done
ACKED=$(nostr_stats '"%d acknowledged, %d rejected, %d dropped, %d retried" % tuple(n["relays"][0][k] for k in ("acknowledged", "rejected", "dropped", "retried"))')
stop_gateway
stop_process "$RELAY_PID"

echo
echo "Upload answer to kind 2003 event at a nostr-tools subscriber, through nostr-relay 1.14 (Python, separate process), $UPLOADS uploads of $SIZE_KIB KiB (after $WARMUP warm-up), ${PAUSE_MS} ms apart, loopback"
echo
joined=0
python3 - "$UPLOADED" "$EVENTS" "$WORK_DIR/answers" "$WARMUP" "$WORK_DIR/latencies.txt" <<'PY' || joined=$?
import json, math, sys

uploaded, events_file, answers, warmup, out = sys.argv[1:6]
warmup = int(warmup)
events = {}
for line in open(events_file):
    parts = line.split()
    if parts and parts[0] == "event":
        events.setdefault(parts[1], int(parts[2]))  # the first arrival of each info-hash

rows, missing = [], []
for line in open(uploaded):
    i, before, total, after = line.split()
    before_ms, after_ms, total_ms = float(before) * 1000, float(after) * 1000, float(total) * 1000
    info_hash = json.load(open(f"{answers}/{i}.json"))["info_hash"].lower()
    if info_hash not in events:
        missing.append(i if int(i) > warmup else f"warm-up {i}")
        continue
    if int(i) <= warmup:
        continue
    received = events[info_hash]
    # lower bound, upper bound, curl's time_total, curl's start-up + exit
    rows.append((int(i), info_hash, received - after_ms, received - (before_ms + total_ms), total_ms,
                 after_ms - before_ms - total_ms))

with open(out, "w") as f:
    f.write("upload info_hash ms_after_curl_returned ms_after_curl_start_plus_time_total upload_ms curl_overhead_ms\n")
    for r in rows:
        f.write("%d %s %.1f %.1f %.1f %.1f\n" % r)

measured = sum(1 for _ in open(uploaded)) - warmup
def rank(values, p):  # nearest rank
    v = sorted(values)
    return v[max(0, math.ceil(p / 100 * len(v)) - 1)]
if rows:
    print("| ms | min | median | p90 | p99 | max |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, column in (
        ("event received - curl returned (lower bound)", 2),
        ("event received - (curl start + time_total) (upper bound)", 3),
        ("upload (curl time_total)", 4),
        ("curl start-up + exit (the bounds' distance)", 5),
    ):
        v = [r[column] for r in rows]
        print("| %s | %s |" % (label, " | ".join("%.1f" % x for x in (min(v), rank(v, 50), rank(v, 90), rank(v, 99), max(v)))))
    print()
print(f"arrived: {len(rows)} of {measured} measured uploads' kind 2003 events" + (f"; missing: {' '.join(missing)}" if missing else ""))
sys.exit(1 if missing or not rows else 0)
PY
echo "relay's answers to the gateway: $ACKED (of $((2 * TOTAL)) events, kinds 2003 and 1063)"
echo "nostr-relay $("$(dirname "$NOSTR_RELAY_PROGRAM")/python" -c 'import importlib.metadata as m; print(m.version("nostr-relay"))' 2>/dev/null || echo '?'), node $(node --version), nostr-tools $(node -p "require('$NODE_DIR/node_modules/nostr-tools/package.json').version"), gateway $GATEWAY"
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(uname -sr), load average at the end $(cut -d' ' -f1-3 /proc/loadavg); the gateway, the relay, the subscriber and curl share the cores"
if [ "$status" != 0 ] || [ "$joined" != 0 ]; then fail "the subscriber did not get every kind 2003 event (see above)"; fi
case "$ACKED" in "$((2 * TOTAL)) acknowledged, 0 rejected"*) ;; *) fail "the relay did not acknowledge every event: $ACKED" ;; esac
