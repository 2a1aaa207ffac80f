#!/usr/bin/env bash
# Soak: DURATION seconds of mixed load against one release gateway on loopback, its memory, file
# descriptors and threads sampled every SAMPLE_EVERY seconds into a CSV and a plot (issue 15).
#
#   benches/scripts/gateway_soak.sh [DURATION [WORK_DIR]]
#
# The real clients, all from 127.0.0.1, each a loop of its own until DURATION is over:
# - uploads: `POST /api/upload` (raw body) of a new file of random bytes each time, its size
#   drawn from UPLOAD_MIX (weighted, 1 KiB to 200 MiB), one every UPLOAD_EVERY seconds at most;
#   each answer must be 201 with the file's sha256 and size. Every stored file is kept in
#   WORK_DIR/files for the checks below (the disk needs about twice the bytes uploaded).
# - range downloads: `curl -r a-b` of `/api/download/{sha256}` of a random stored file, a
#   length uniform in 1..MAX_RANGE at a uniform offset; 206 with exactly those bytes (cmp).
# - announces: `GET /announce` (HTTP tracker) for the info-hash of a random stored file with a
#   random peer id and port, `event=started`, then `event=stopped` for half of them; 200 with
#   a bencoded answer holding an interval and no failure reason.
# - peer downloads, one at a time, in turn: python3-libtorrent (crates/testkit/support/
#   lt_peer.py leech) from the upload answer's magnet link, the same from its .torrent, aria2c
#   from the .torrent URL, aria2c from the magnet link; each must finish within TIMEOUT and its
#   file's sha256 be the stored one's.
# The attack, from ATTACK_ADDR (127.0.0.2), in bursts of ATTACK_SECONDS every ATTACK_EVERY
# seconds (the first at ATTACK_EVERY / 2), counted apart from the real traffic:
# - the whole burst, soak/attack.py: ATTACK_IDLE idle connections to the peer port, each reopened
#   when the gateway closes it (a reconnect loop), at most ATTACK_RECONNECTS new ones a second;
# - the first half, a request flood: curl --interface ATTACK_ADDR --parallel (ATTACK_PARALLEL at
#   once) of `/api/files/{sha256}` and `/announce`, ATTACK_REQUESTS a round, rounds until the
#   half is over (alone on the HTTP port, so that the per-IP request limits answer it);
# - the second half, soak/attack.py: ATTACK_SLOWLORIS slowloris connections to the HTTP port (a
#   request head dripped a byte every 2 s), reopened when closed, as above.
# The sampler, every SAMPLE_EVERY seconds: the gateway's VmRSS and Threads (/proc/PID/status),
# its open file descriptors (/proc/PID/fd), its CPU since the last sample (/proc/PID/stat), whether
# a burst is on, the real operations finished so far, the gateway's refusal counters from
# /metrics (rate limited, HTTP refused, peer refused) and its async tasks alive
# (swarmgate_runtime_tasks), into OUT_DIR/OUT_NAME.csv.
#
# At the end: a table of the real operations (any failure fails the script: exit 1), of the
# attack (connections refused and held, status codes of the flood) and of the gateway's refusal
# counters in /metrics; the counters' growth between samples with no burst in between, which can
# only be the real clients' (libtorrent's and aria2c's own web seed and peer connections
# included) and must be 0 (else exit 1); then the flatness verdict: the first third of the run is the warm-up, and
# the mean of each figure over the last third must not exceed its mean over the middle third by
# more than FLAT_TOLERANCE percent (plus 16 descriptors or tasks or 4 threads, the noise of one client's
# connections), both over the samples taken outside the bursts; with the least-squares slope per
# hour after the warm-up, for information. Not flat: exit 3 (after writing everything). gnuplot
# draws OUT_DIR/OUT_NAME.svg (RSS; descriptors, threads and tasks; the bursts shaded) and the report is
# also written to OUT_DIR/OUT_NAME.md.
#
# The gateway runs with its default limits, which the real load stays within: HTTP connections
# per IP 64 (the real clients hold fewer than 10), requests per IP 200 a second (they make about
# 20), announces per IP 50 a second (about 10, with libtorrent's and aria2c's), uploads per IP 60
# a minute (one every UPLOAD_EVERY = 2 s: 30), peers per IP 8 (one downloader at a time). The
# attack from ATTACK_ADDR is meant to hit each of them. GATEWAY_FLAGS adds flags.
#
# Environment (arguments win): DURATION (seconds, default 1800), WORK_DIR (default: a fresh
# mktemp -d, removed at exit; a WORK_DIR you name is kept, with the files, logs and the gateway's
# data folder), OUT_DIR (the CSV, plot and report; default WORK_DIR), OUT_NAME (their name,
# default soak-<DURATION>s), SAMPLE_EVERY (seconds, default 10), UPLOAD_MIX (size:weight pairs,
# sizes with K or M, default "1K:40 64K:25 1M:20 16M:10 200M:5"), UPLOAD_EVERY (seconds between
# the starts of two uploads, at least; default 2), MAX_RANGE (bytes, default 4194304),
# RANGE_PAUSE / ANNOUNCE_PAUSE / DOWNLOAD_PAUSE (seconds between two operations of that loop,
# default 0.2 / 0.2 / 1), TIMEOUT (seconds a peer download may take, default 300),
# ATTACK_ADDR (default 127.0.0.2), ATTACK_EVERY (seconds, default DURATION / 6, at least 60),
# ATTACK_SECONDS (default ATTACK_EVERY / 4, at most 30), ATTACK_IDLE / ATTACK_SLOWLORIS
# (connections, default 1000 / 1000), ATTACK_RECONNECTS (new connections a second, default 200),
# ATTACK_REQUESTS / ATTACK_PARALLEL (flood requests a round / at once, default 2000 / 100),
# FLAT_TOLERANCE (percent, default 10), GATEWAY (the gateway binary; default
# $CARGO_TARGET_DIR/release/gateway or target/release/gateway, built with
# `cargo build --release -p swarmgate-gateway` when missing), GATEWAY_FLAGS (more gateway flags).
#
# Needs: curl, python3-libtorrent (/usr/bin/python3), aria2c, gnuplot (gnuplot-nox), bash 5,
# coreutils, and a file descriptor hard limit above 2 x (ATTACK_IDLE + ATTACK_SLOWLORIS).
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
# shellcheck source=lib.sh
source "$REPO_ROOT/benches/scripts/lib.sh"
LT_PEER="$REPO_ROOT/crates/testkit/support/lt_peer.py"
ATTACK_PY="$REPO_ROOT/benches/scripts/soak/attack.py"
DURATION=${1:-${DURATION:-1800}}
WORK_DIR=${2:-${WORK_DIR:-}}
SAMPLE_EVERY=${SAMPLE_EVERY:-10}
UPLOAD_MIX=${UPLOAD_MIX:-"1K:40 64K:25 1M:20 16M:10 200M:5"}
UPLOAD_EVERY=${UPLOAD_EVERY:-2}
MAX_RANGE=${MAX_RANGE:-4194304}
RANGE_PAUSE=${RANGE_PAUSE:-0.2}
ANNOUNCE_PAUSE=${ANNOUNCE_PAUSE:-0.2}
DOWNLOAD_PAUSE=${DOWNLOAD_PAUSE:-1}
TIMEOUT=${TIMEOUT:-300}
ATTACK_ADDR=${ATTACK_ADDR:-127.0.0.2}
ATTACK_EVERY=${ATTACK_EVERY:-$((DURATION / 6 > 60 ? DURATION / 6 : 60))}
ATTACK_SECONDS=${ATTACK_SECONDS:-$((ATTACK_EVERY / 4 < 30 ? ATTACK_EVERY / 4 : 30))}
ATTACK_IDLE=${ATTACK_IDLE:-1000}
ATTACK_SLOWLORIS=${ATTACK_SLOWLORIS:-1000}
ATTACK_RECONNECTS=${ATTACK_RECONNECTS:-200}
ATTACK_REQUESTS=${ATTACK_REQUESTS:-2000}
ATTACK_PARALLEL=${ATTACK_PARALLEL:-100}
FLAT_TOLERANCE=${FLAT_TOLERANCE:-10}
GATEWAY_FLAGS=${GATEWAY_FLAGS:-}
OUT_NAME=${OUT_NAME:-soak-${DURATION}s}

for value in DURATION SAMPLE_EVERY UPLOAD_EVERY MAX_RANGE TIMEOUT ATTACK_EVERY ATTACK_SECONDS \
    ATTACK_RECONNECTS ATTACK_REQUESTS ATTACK_PARALLEL; do
    case "${!value}" in '' | *[!0-9]* | 0)
        echo "$value must be a positive whole number, not '${!value}'" >&2
        exit 2
        ;;
    esac
done
for value in ATTACK_IDLE ATTACK_SLOWLORIS FLAT_TOLERANCE; do
    case "${!value}" in '' | *[!0-9]*)
        echo "$value must be a whole number, not '${!value}'" >&2
        exit 2
        ;;
    esac
done
for value in RANGE_PAUSE ANNOUNCE_PAUSE DOWNLOAD_PAUSE; do
    [[ "${!value}" =~ ^[0-9]+(\.[0-9]+)?$ ]] || {
        echo "$value must be a number of seconds, not '${!value}'" >&2
        exit 2
    }
done
[ "$DURATION" -ge $((3 * SAMPLE_EVERY)) ] || { echo "DURATION must be at least 3 x SAMPLE_EVERY" >&2; exit 2; }
[ "$ATTACK_SECONDS" -lt "$ATTACK_EVERY" ] || { echo "ATTACK_SECONDS must be below ATTACK_EVERY" >&2; exit 2; }
case "$ATTACK_ADDR" in 127.*) ;; *)
    echo "ATTACK_ADDR must be a 127/8 address (loopback only), not '$ATTACK_ADDR'" >&2
    exit 2
    ;;
esac
[ "$ATTACK_ADDR" != 127.0.0.1 ] || { echo "ATTACK_ADDR must differ from the real clients' 127.0.0.1" >&2; exit 2; }
MIX=() # sizes in bytes, each repeated by its weight
for pair in $UPLOAD_MIX; do
    [[ "$pair" =~ ^([0-9]+)([KM]?):([0-9]+)$ ]] || { echo "UPLOAD_MIX: '$pair' is not SIZE[K|M]:WEIGHT" >&2; exit 2; }
    bytes=${BASH_REMATCH[1]}
    case "${BASH_REMATCH[2]}" in K) bytes=$((bytes << 10)) ;; M) bytes=$((bytes << 20)) ;; esac
    [ "$bytes" -gt 0 ] || { echo "UPLOAD_MIX: '$pair' has no bytes" >&2; exit 2; }
    for _ in $(seq 1 "${BASH_REMATCH[3]}"); do MIX+=("$bytes"); done
done
[ "${#MIX[@]}" -gt 0 ] || { echo "UPLOAD_MIX has no weight" >&2; exit 2; }

need curl "apt-get install curl"
need sha256sum "apt-get install coreutils"
need aria2c "apt-get install aria2"
need gnuplot "apt-get install gnuplot-nox"
need python3 "apt-get install python3"
/usr/bin/python3 -c 'import libtorrent' 2>/dev/null || {
    echo "missing python3-libtorrent: install it with 'apt-get install python3-libtorrent'" >&2
    exit 2
}
[ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -gt $((2 * (ATTACK_IDLE + ATTACK_SLOWLORIS) + 64)) ] ||
    { echo "the file descriptor hard limit ($(ulimit -Hn)) is too low for the attack's sockets" >&2; exit 2; }

use_work_dir swarmgate-soak
OUT_DIR=${OUT_DIR:-$WORK_DIR}
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
CSV="$OUT_DIR/$OUT_NAME.csv"
SVG="$OUT_DIR/$OUT_NAME.svg"
REPORT="$OUT_DIR/$OUT_NAME.md"
OPS="$WORK_DIR/ops.log"            # epoch kind ok|FAIL seconds bytes detail: the real traffic
ATTACKS="$WORK_DIR/attack.log"     # what each burst saw
STORED="$WORK_DIR/stored.txt"      # sha256 size info_hash name: the files the gateway holds
ATTACK_ON="$WORK_DIR/attack.on"    # exists while a burst is on
mkdir -p "$WORK_DIR/files" "$WORK_DIR/answers" "$WORK_DIR/tmp"
rm -f "$ATTACK_ON" "$WORK_DIR"/worker-*.done
: >"$OPS"
: >"$ATTACKS"
: >"$STORED"

# kill_tree PID: the process and every process under it (a worker's curl, python or aria2c).
kill_tree() {
    local child children
    children=$(ps -o pid= --ppid "$1" 2>/dev/null || true)
    kill "$1" 2>/dev/null || true
    for child in $children; do kill_tree "$child"; done
}
# lib.sh's exit trap calls cleanup: stop the workers with everything they started.
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill_tree "$pid"; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}

# --- the real clients ---------------------------------------------------------------------------
now() { echo "${EPOCHREALTIME/,/.}"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
record() { # kind ok|FAIL started bytes detail...: one line of OPS (one write: O_APPEND keeps it whole)
    local kind=$1 result=$2 started=$3 bytes=$4
    shift 4
    echo "$EPOCHSECONDS $kind $result $(since "$started") $bytes $*" >>"$OPS"
}
random_below() { # N: a random whole number in 0..N-1 (30 bits of $RANDOM)
    echo $((((RANDOM << 15) | RANDOM) % $1))
}
pick_stored() { # a random line of STORED: sha256 size info_hash name
    awk -v seed="$RANDOM$RANDOM" 'NF == 4 { line[n++] = $0 } END { srand(seed); if (n) print line[int(rand() * n)] }' "$STORED"
}
percent_encoded() { # hex: %XX for each byte
    # shellcheck disable=SC2001 # a % before every second character: no parameter expansion does that
    echo "$1" | sed 's/../%&/g'
}
json_fields() { # file field...: the fields' values, one a line
    python3 -c 'import json, sys; a = json.load(open(sys.argv[1])); print("\n".join(str(a[f]) for f in sys.argv[2:]))' "$@"
}

upload_one() { # bytes name: a new file of random bytes, uploaded and checked; stored on success
    local size=$1 name=$2 file="$WORK_DIR/tmp/$2" answer="$WORK_DIR/tmp/$2.json" started sha status fields
    head -c "$size" /dev/urandom >"$file"
    sha=$(sha256sum "$file" | cut -d' ' -f1)
    started=$(now)
    status=$(curl -sS --max-time 900 -o "$answer" -w '%{http_code}' -T "$file" -X POST -H "Expect:" \
        -H "X-Filename: $name" -H "Content-Type: application/octet-stream" \
        "$GATEWAY_URL/api/upload" 2>>"$WORK_DIR/curl-errors.log") || status="curl-exit-$?"
    if [ "$status" != 201 ]; then
        record upload FAIL "$started" "$size" "$name: $status $(head -c 200 "$answer" 2>/dev/null)"
        rm -f "$file" "$answer"
        return 0
    fi
    if ! fields=$(json_fields "$answer" sha256 size info_hash name 2>/dev/null) ||
        [ "$(echo "$fields" | sed -n 1p)" != "$sha" ] || [ "$(echo "$fields" | sed -n 2p)" != "$size" ]; then
        record upload FAIL "$started" "$size" "$name: the answer is not the file's: $(head -c 300 "$answer")"
        rm -f "$file" "$answer"
        return 0
    fi
    record upload ok "$started" "$size" "$name $sha"
    mv "$file" "$WORK_DIR/files/$sha"
    mv "$answer" "$WORK_DIR/answers/$sha.json"
    echo "$sha $size $(echo "$fields" | sed -n 3p) $(echo "$fields" | sed -n 4p)" >>"$STORED"
}

upload_worker() {
    local i started
    for i in $(seq 1 1000000); do
        [ "$EPOCHSECONDS" -lt "$END" ] || break
        started=$EPOCHSECONDS
        upload_one "${MIX[$(random_below "${#MIX[@]}")]}" "soak-$i.bin"
        while [ "$EPOCHSECONDS" -lt $((started + UPLOAD_EVERY)) ] && [ "$EPOCHSECONDS" -lt "$END" ]; do sleep 0.2; done
    done
}

range_worker() {
    local i line sha size length start part status started
    part="$WORK_DIR/tmp/range.part"
    for i in $(seq 1 10000000); do
        [ "$EPOCHSECONDS" -lt "$END" ] || break
        line=$(pick_stored)
        read -r sha size _ <<<"$line"
        length=$((1 + $(random_below $((size < MAX_RANGE ? size : MAX_RANGE)))))
        start=$(random_below $((size - length + 1)))
        started=$(now)
        status=$(curl -sS --max-time 120 -o "$part" -w '%{http_code}' -r "$start-$((start + length - 1))" \
            "$GATEWAY_URL/api/download/$sha" 2>>"$WORK_DIR/curl-errors.log") || status="curl-exit-$?"
        if [ "$status" != 206 ] && ! { [ "$status" = 200 ] && [ "$length" = "$size" ]; }; then
            record range FAIL "$started" "$length" "$sha $start+$length: $status"
        elif ! cmp -s "$part" <(dd if="$WORK_DIR/files/$sha" bs=1M iflag=skip_bytes,count_bytes skip="$start" count="$length" status=none); then
            record range FAIL "$started" "$length" "$sha $start+$length: other bytes than the file's"
        else
            record range ok "$started" "$length" "$sha $start+$length"
        fi
        sleep "$RANGE_PAUSE"
    done
}

announce_one() { # info_hash size peer_id port event: one announce, checked
    local body="$WORK_DIR/tmp/announce.body" started status
    started=$(now)
    status=$(curl -sS --max-time 60 -o "$body" -w '%{http_code}' \
        "$GATEWAY_URL/announce?info_hash=$(percent_encoded "$1")&peer_id=$(percent_encoded "$3")&port=$4&uploaded=0&downloaded=0&left=$2&compact=1&event=$5" \
        2>>"$WORK_DIR/curl-errors.log") || status="curl-exit-$?"
    if [ "$status" != 200 ]; then
        record announce FAIL "$started" 0 "$1 $5: $status $(head -c 200 "$body" 2>/dev/null)"
    elif [ "$(head -c 1 "$body")" != d ] || grep -aq 'failure reason' "$body" || ! grep -aq '8:interval' "$body"; then
        record announce FAIL "$started" 0 "$1 $5: $(head -c 200 "$body")"
    else
        record announce ok "$started" 0 "$1 $5"
    fi
}

announce_worker() {
    local i line info_hash size peer_id port
    for i in $(seq 1 10000000); do
        [ "$EPOCHSECONDS" -lt "$END" ] || break
        line=$(pick_stored)
        read -r _ size info_hash _ <<<"$line"
        peer_id=$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')
        port=$((20000 + RANDOM % 40000))
        announce_one "$info_hash" "$size" "$peer_id" "$port" started
        if [ $((RANDOM % 2)) = 0 ]; then announce_one "$info_hash" "$size" "$peer_id" "$port" stopped; fi
        sleep "$ANNOUNCE_PAUSE"
    done
}

download_one() { # client source: one peer download of a random stored file, checked by sha256
    local client=$1 source=$2 line sha size name magnet torrent_url dir="$WORK_DIR/tmp/download" started log got from kept
    line=$(pick_stored)
    read -r sha size _ name <<<"$line"
    { read -r magnet && read -r torrent_url; } < <(json_fields "$WORK_DIR/answers/$sha.json" magnet torrent_url)
    from=$magnet
    if [ "$source" = torrent ]; then from=$torrent_url; fi
    rm -rf "$dir"
    mkdir -p "$dir"
    log="$WORK_DIR/tmp/download.log"
    rm -f "$log" "$log.aria2c"
    started=$(now)
    case "$client" in
    libtorrent)
        if [ "$source" = torrent ]; then
            curl -sS --max-time 60 -o "$dir.torrent" "$torrent_url" 2>>"$WORK_DIR/curl-errors.log" || true
            from="$dir.torrent"
        fi
        timeout $((TIMEOUT + 30)) /usr/bin/python3 "$LT_PEER" leech "$from" "$dir" --timeout "$TIMEOUT" >"$log" 2>&1 || true
        ;;
    aria2c)
        # Its listen port above Linux's default ephemeral range (32768-60999), where the
        # thousands of loopback connections of this run cannot hold it.
        timeout $((TIMEOUT + 30)) aria2c -d "$dir" --interface=127.0.0.1 --disable-ipv6=true \
            --log="$log.aria2c" --log-level=notice \
            --listen-port="$((61000 + RANDOM % 4000))" --seed-time=0 --enable-dht=false \
            --enable-dht6=false --bt-enable-lpd=false --enable-peer-exchange=false \
            --file-allocation=none --summary-interval=0 --console-log-level=error \
            --bt-stop-timeout="$TIMEOUT" --allow-overwrite=true "$from" >"$log" 2>&1 || true
        ;;
    esac
    if [ ! -f "$dir/$name" ]; then
        kept="$WORK_DIR/failed-$EPOCHSECONDS-$client-$source.log"
        cat "$log" "$log.aria2c" >"$kept" 2>/dev/null || true
        record "$client-$source" FAIL "$started" "$size" "$sha: no $name (logs: $kept): $(tail -c 300 "$log" | tr '\n' ' ')"
        return 0
    fi
    got=$(sha256sum "$dir/$name" | cut -d' ' -f1)
    if [ "$got" != "$sha" ]; then
        record "$client-$source" FAIL "$started" "$size" "$sha: downloaded $got"
    else
        record "$client-$source" ok "$started" "$size" "$sha"
    fi
    rm -rf "$dir" "$dir.torrent"
}

download_worker() {
    local i kinds=("libtorrent magnet" "libtorrent torrent" "aria2c torrent" "aria2c magnet")
    for i in $(seq 0 1000000); do
        [ "$EPOCHSECONDS" -lt "$END" ] || break
        # shellcheck disable=SC2086 # "client source"
        download_one ${kinds[$((i % 4))]}
        sleep "$DOWNLOAD_PAUSE"
    done
}

# --- the attack ---------------------------------------------------------------------------------
flood_round() { # burst-end: ATTACK_REQUESTS requests from ATTACK_ADDR, their statuses appended to ATTACKS
    local config="$WORK_DIR/tmp/flood.cfg" line sha info_hash
    line=$(pick_stored)
    read -r sha _ info_hash _ <<<"$line"
    info_hash=$(percent_encoded "$info_hash")
    awk -v n="$ATTACK_REQUESTS" -v url="$GATEWAY_URL" -v sha="$sha" -v ih="$info_hash" 'BEGIN {
        for (i = 1; i <= n; i++) {
            if (i % 2) printf "url = \"%s/announce?info_hash=%s&peer_id=-FL0000-%012d&port=6999&left=1&compact=1\"\n", url, ih, i
            else printf "url = \"%s/api/files/%s\"\n", url, sha
            print "output = \"/dev/null\""
        } }' >"$config"
    timeout $(($1 - EPOCHSECONDS + 1)) curl -s --interface "$ATTACK_ADDR" --parallel --parallel-max "$ATTACK_PARALLEL" \
        --max-time 10 -w 'FLOOD %{http_code}\n' --config "$config" >>"$ATTACKS" 2>/dev/null || true
}

attack_burst() { # seconds idle slowloris: attack.py for that long, its lines appended to ATTACKS
    timeout $(($1 + 30)) /usr/bin/python3 "$ATTACK_PY" --bind "$ATTACK_ADDR" --peer "$GATEWAY_PEER" \
        --http "${GATEWAY_URL#http://}" --seconds "$1" --idle "$2" --slowloris "$3" \
        --reconnects-per-second "$ATTACK_RECONNECTS" >>"$ATTACKS" 2>>"$WORK_DIR/attack-errors.log" ||
        echo "ATTACK-EXIT $?" >>"$ATTACKS"
}

attack_worker() {
    local burst first start half end peer_pid
    first=$((START + ATTACK_EVERY / 2))
    for burst in $(seq 0 100000); do
        [ $((first + burst * ATTACK_EVERY + ATTACK_SECONDS)) -le "$END" ] || break
        while [ "$EPOCHSECONDS" -lt $((first + burst * ATTACK_EVERY)) ]; do sleep 0.2; done
        start=$EPOCHSECONDS
        half=$((start + ATTACK_SECONDS / 2))
        end=$((start + ATTACK_SECONDS))
        echo "BURST $((burst + 1)) $((start - START)) $((end - START))" >>"$ATTACKS"
        touch "$ATTACK_ON"
        # The peer port: idle connections and their reconnect loop, the whole burst.
        attack_burst "$ATTACK_SECONDS" "$ATTACK_IDLE" 0 &
        peer_pid=$!
        # The HTTP port: the request flood for the first half (alone, so that the per-IP
        # request limit answers it, not only the connection cap), then slowloris.
        for _ in $(seq 1 10000); do
            [ "$EPOCHSECONDS" -lt "$half" ] || break
            flood_round "$half"
        done
        if [ "$EPOCHSECONDS" -lt "$end" ]; then attack_burst $((end - EPOCHSECONDS)) 0 "$ATTACK_SLOWLORIS"; fi
        wait "$peer_pid" || true
        rm -f "$ATTACK_ON"
    done
}

# --- the sampler --------------------------------------------------------------------------------
metric_samples() { # rate_limited,http_refused,peer_refused,tasks from /metrics (refusals summed)
    curl -sS --max-time 5 "$GATEWAY_URL/metrics" 2>>"$WORK_DIR/curl-errors.log" | awk '
        /^swarmgate_rate_limited_total / { r += $2 }
        /^swarmgate_http_refused_total[{ ]/ { h += $2 }
        /^swarmgate_peer_refused[a-z_]*_total / { p += $2 }
        /^swarmgate_runtime_tasks / { t = $2; seen = 1 }
        END { if (!seen) exit 1; printf "%d,%d,%d,%d", r, h, p, t }'
}

sampler() {
    local i at ticks last_ticks cpu hz refusals started
    hz=$(getconf CLK_TCK)
    echo "seconds,rss_kib,fds,threads,cpu_percent,attack,real_ops_ok,rate_limited,http_refused,peer_refused,tasks" >"$CSV"
    last_ticks=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$GATEWAY_PID/stat")
    for i in $(seq 1 $((DURATION / SAMPLE_EVERY))); do
        at=$((START + i * SAMPLE_EVERY))
        while [ "$EPOCHSECONDS" -lt "$at" ]; do sleep 0.1; done
        [ -d "/proc/$GATEWAY_PID" ] || break
        ticks=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$GATEWAY_PID/stat")
        cpu=$((100 * (ticks - last_ticks) / hz / SAMPLE_EVERY))
        last_ticks=$ticks
        started=$(now)
        if refusals=$(metric_samples); then
            record metrics ok "$started" 0 "/metrics"
        else
            record metrics FAIL "$started" 0 "/metrics did not answer"
            refusals=",,,"
        fi
        echo "$((EPOCHSECONDS - START)),$(awk '/^VmRSS:/ { print $2 }' "/proc/$GATEWAY_PID/status"),$(find "/proc/$GATEWAY_PID/fd" -mindepth 1 -maxdepth 1 | wc -l),$(awk '/^Threads:/ { print $2 }' "/proc/$GATEWAY_PID/status"),$cpu,$([ -e "$ATTACK_ON" ] && echo 1 || echo 0),$(grep -c ' ok ' "$OPS" || true),$refusals" >>"$CSV"
    done
}

# --- the run ------------------------------------------------------------------------------------
# shellcheck disable=SC2086 # GATEWAY_FLAGS splits into its words on purpose
start_gateway "$WORK_DIR/gateway-data" "$WORK_DIR/gateway.log" $GATEWAY_FLAGS
say "gateway $GATEWAY_PID at $GATEWAY_URL, peers on $GATEWAY_PEER; $DURATION s of load, bursts of $ATTACK_SECONDS s every $ATTACK_EVERY s from $ATTACK_ADDR"
# The first uploads, before the clock: something to download and announce from the start.
for size in 1024 65536 1048576 16777216; do upload_one "$size" "seed-$size.bin"; done
[ "$(wc -l <"$STORED")" -ge 1 ] || { cat "$OPS" >&2; fail "not even the first uploads were stored"; }
START=$EPOCHSECONDS
END=$((START + DURATION))

WORKERS=(upload range announce download attack)
declare -A WORKER_PID
for worker in "${WORKERS[@]}"; do
    # set -e holds in the loop: an unexpected error ends it before its .done mark.
    (
        "${worker}_worker"
        touch "$WORK_DIR/worker-$worker.done"
    ) 2>"$WORK_DIR/worker-$worker.log" &
    WORKER_PID[$worker]=$!
    PIDS+=("$!")
done
sampler
say "the $DURATION s are over: waiting for the last operations (at most TIMEOUT + 60 s)"
for worker in "${WORKERS[@]}"; do
    wait "${WORKER_PID[$worker]}" || true
    forget "${WORKER_PID[$worker]}"
done
curl -sS --max-time 30 "$GATEWAY_URL/metrics" >"$WORK_DIR/metrics.txt" 2>>"$WORK_DIR/curl-errors.log" || true
stop_gateway

# --- the report ---------------------------------------------------------------------------------
DIED=""
for worker in "${WORKERS[@]}"; do
    [ -e "$WORK_DIR/worker-$worker.done" ] || DIED="$DIED $worker"
done
plot() {
    gnuplot <<GNUPLOT
set terminal svg size 1000,700 dynamic font "sans,11"
set output "$SVG"
set datafile separator ","
set grid
set xrange [0:$DURATION]
$(awk '/^BURST/ { printf "set object rect from %s, graph 0 to %s, graph 1 fc rgb \"red\" fs transparent solid 0.15 noborder behind\n", $3, $4 }' "$ATTACKS")
set multiplot layout 2,1 title "Swarmgate gateway soak, $OUT_NAME: $(date -u +%Y-%m-%d); shaded: attack bursts from $ATTACK_ADDR"
set key bottom right opaque
set ylabel "RSS (MiB)"
set autoscale y
stats "$CSV" skip 1 using (\$2 / 1024) nooutput
set yrange [0:STATS_max * 1.1]
plot "$CSV" skip 1 using 1:(\$2 / 1024) with linespoints pt 7 ps 0.4 lc rgb "blue" title "VmRSS"
set xlabel "seconds"
set key top left opaque
set ylabel "count"
set autoscale y
stats "$CSV" skip 1 using (\$3 > \$11 ? \$3 : \$11) nooutput
set yrange [0:STATS_max * 1.1]
plot "$CSV" skip 1 using 1:3 with linespoints pt 7 ps 0.4 lc rgb "dark-green" title "open file descriptors", \
     "$CSV" skip 1 using 1:4 with linespoints pt 7 ps 0.4 lc rgb "orange" title "threads", \
     "$CSV" skip 1 using 1:11 with linespoints pt 7 ps 0.4 lc rgb "purple" title "async tasks"
unset multiplot
GNUPLOT
}
plot || echo "NOTE: gnuplot failed; no plot" >&2

report() {
    echo "## Gateway soak: $OUT_NAME"
    echo
    echo "$DURATION s of mixed load on loopback, one release gateway ($("$GATEWAY" --version 2>/dev/null | head -1 || echo gateway)) with its default limits${GATEWAY_FLAGS:+ and $GATEWAY_FLAGS}; samples every $SAMPLE_EVERY s in \`$(basename "$CSV")\`, plot \`$(basename "$SVG")\`; $(date -u '+%Y-%m-%d %H:%M UTC')."
    echo
    echo "### Real traffic (127.0.0.1)"
    echo
    echo "| operation | ok | failed | bytes | median s | max s |"
    echo "|---|---:|---:|---:|---:|---:|"
    sort -k2,2 "$OPS" | awk '
        function flush() {
            if (kind == "") return
            m = n ? (n % 2 ? t[(n + 1) / 2] : (t[n / 2] + t[n / 2 + 1]) / 2) : 0
            printf "| %s | %d | %d | %.0f | %.3f | %.3f |\n", kind, ok, bad, bytes, m, max
        }
        $2 != kind { flush(); kind = $2; ok = bad = bytes = n = max = 0; delete t }
        { if ($3 == "ok") { ok++; bytes += $5 } else bad++
          t[++n] = $4; if ($4 > max) max = $4
          for (i = n; i > 1 && t[i - 1] > t[i]; i--) { x = t[i]; t[i] = t[i - 1]; t[i - 1] = x } }
        END { flush() }'
    echo
    echo "Uploads from the mix \`$UPLOAD_MIX\`; ranges of 1..$MAX_RANGE bytes; announces \`started\` (and \`stopped\` for half); peer downloads of random stored files, each checked by sha256."
    echo
    echo "### Attack traffic ($ATTACK_ADDR), $(grep -c '^BURST' "$ATTACKS" || true) bursts of $ATTACK_SECONDS s every $ATTACK_EVERY s"
    echo
    echo "| burst | from s | to s | target | attempts | connected | failed | closed by the gateway | of those within 1 s | open at most | open at the end |"
    echo "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"
    awk '/^BURST/ { b = $2; from = $3; to = $4 }
        /^ATTACK / { for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
            printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", b, from, to, $2, v["attempts"], v["connected"], v["failed"], v["closed"], v["closed_within_1s"], v["open_max"], v["open_at_end"] }' "$ATTACKS"
    echo
    echo "Request flood (curl --parallel $ATTACK_PARALLEL, /api/files/{sha256} and /announce), answers by status (000: no answer, the connection closed or refused):"
    echo
    echo "| status | requests |"
    echo "|---|---:|"
    awk '/^FLOOD/ { n[$2]++ } END { for (s in n) printf "| %s | %d |\n", s, n[s] }' "$ATTACKS" | sort
    echo
    echo "The gateway's refusal counters at the end (/metrics):"
    echo
    echo '```'
    grep -E '^swarmgate_[a-z_]*(refused|evicted|limited)[a-z_]*[{ ]' "$WORK_DIR/metrics.txt" 2>/dev/null || echo "(none found)"
    echo '```'
    echo
    awk -F'[ ,]' -v pad=2 '
        FNR == NR { if ($1 == "BURST") { from[++b] = $3; to[b] = $4 } next }
        FNR == 1 { next }
        { if (prev != "" && $8 != "" && r0 != "") {
              quiet = 1
              for (k = 1; k <= b; k++) if (prev < to[k] + pad && $1 + pad > from[k]) quiet = 0
              if (quiet) { n++; r += $8 - r0; h += $9 - h0; p += $10 - p0 }
          }
          prev = $1; r0 = $8; h0 = $9; p0 = $10 }
        END { printf "%d %d %d %d\n", n, r, h, p }' "$ATTACKS" "$CSV" >"$WORK_DIR/quiet-refusals.txt"
    read -r quiet_intervals quiet_rate quiet_http quiet_peer <"$WORK_DIR/quiet-refusals.txt"
    echo "Refusals while no burst was on (the gateway's counters over the $quiet_intervals sampling intervals with no burst in them; only the real clients were there): rate limited $quiet_rate, HTTP connections or requests refused $quiet_http, peer connections refused $quiet_peer."
    echo
    echo "### Resources (samples outside the bursts; warm-up: the first third)"
    echo
    echo "| figure | warm-up mean | middle third mean | last third mean | change | slope after warm-up, per hour | max (all samples) | flat |"
    echo "|---|---:|---:|---:|---:|---:|---:|---|"
    awk -F, -v d="$DURATION" -v tol="$FLAT_TOLERANCE" -v verdict="$WORK_DIR/verdict.txt" '
        NR == 1 { next }
        BEGIN { split("2 3 4 11", cols, " ") }
        { third = $1 < d / 3 ? 1 : ($1 < 2 * d / 3 ? 2 : 3)
          for (k = 1; k <= 4; k++) { c = cols[k]; if ($c == "") continue
              if ($c > max[c]) max[c] = $c
              if ($6 == 0) { sum[c, third] += $c; n[c, third]++
                  if (third > 1) { sx[c] += $1; sy[c] += $c; sxx[c] += $1 * $1; sxy[c] += $1 * $c; m[c]++ } }
          } }
        END {
            name[2] = "VmRSS (MiB)"; name[3] = "open file descriptors"; name[4] = "threads"; name[11] = "async tasks"
            scale[2] = 1024; scale[3] = 1; scale[4] = 1; scale[11] = 1
            slack[2] = 0; slack[3] = 16; slack[4] = 4; slack[11] = 16
            all = 1
            for (k = 1; k <= 4; k++) { c = cols[k]
                for (t = 1; t <= 3; t++) mean[t] = n[c, t] ? sum[c, t] / n[c, t] : -1
                slope = (m[c] > 1 && m[c] * sxx[c] != sx[c] * sx[c]) ? (m[c] * sxy[c] - sx[c] * sy[c]) / (m[c] * sxx[c] - sx[c] * sx[c]) * 3600 : 0
                if (mean[2] < 0 || mean[3] < 0) { ok = "no samples"; all = 0 }
                else { ok = mean[3] <= mean[2] * (1 + tol / 100) + slack[c] ? "yes" : "NO"; if (ok != "yes") all = 0 }
                change = mean[2] > 0 ? sprintf("%+.1f %%", 100 * (mean[3] - mean[2]) / mean[2]) : "-"
                printf "| %s | %.1f | %.1f | %.1f | %s | %+.1f | %.1f | %s |\n", name[c], mean[1] / scale[c], mean[2] / scale[c], mean[3] / scale[c], change, slope / scale[c], max[c] / scale[c], ok
            }
            print (all ? "flat" : "NOT flat") > verdict
        }' "$CSV"
    echo
    echo "Verdict: **$(cat "$WORK_DIR/verdict.txt")** (flat: the last third's mean at most $FLAT_TOLERANCE % above the middle third's, plus 16 descriptors, 4 threads or 16 tasks)."
    echo
    echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(uname -sr), load average at the end $(cut -d' ' -f1-3 /proc/loadavg); the load, the attack and the gateway share the cores"
}
report | tee "$REPORT"

FAILED=$(grep -c ' FAIL ' "$OPS" || true)
if [ "$FAILED" -gt 0 ]; then
    echo "the failed operations:" >&2
    grep ' FAIL ' "$OPS" | head -20 >&2
    fail "$FAILED real operations failed (the report is in $REPORT)"
fi
read -r _ quiet_rate quiet_http quiet_peer <"$WORK_DIR/quiet-refusals.txt"
[ $((quiet_rate + quiet_http + quiet_peer)) = 0 ] ||
    fail "the gateway refused the real clients outside the bursts: $quiet_rate rate limited, $quiet_http HTTP, $quiet_peer peer (libtorrent's or aria2c's own requests?)"
[ -z "$DIED" ] || fail "these loops died before the end:$DIED (see $WORK_DIR/worker-*.log when WORK_DIR is kept)"
for kind in upload range announce libtorrent-magnet libtorrent-torrent aria2c-torrent aria2c-magnet; do
    grep -q " $kind ok " "$OPS" || fail "no $kind succeeded in $DURATION s: the run tested too little"
done
[ "$(cat "$WORK_DIR/verdict.txt")" = flat ] || { echo "NOT FLAT: see $REPORT and $SVG" >&2; exit 3; }
say "no real operation failed; every download verified; flat after warm-up: $REPORT, $CSV, $SVG"
