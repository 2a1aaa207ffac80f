#!/usr/bin/env bash
# HTTP announces per second: `swarm tracker --http` against opentracker (Debian), under wrk, on
# loopback.
#
#   benches/scripts/tracker_http_vs_opentracker.sh [SECONDS [WORK_DIR]]
#
# Environment (arguments win): DURATION (seconds of each measured run, default 10), WORK_DIR
# (default: a fresh mktemp -d, removed at exit; a WORK_DIR you name is kept, with every log),
# WARMUP (seconds of each warm-up round, default 5; rounds repeat until all 100,000 peers have
# announced, 6 at most), CONNECTIONS (wrk connections, default 32), WRK_THREADS (default 1),
# TRACKERS (default "opentracker swarm"), SWARM (the swarm binary; default target/release/swarm,
# built with `cargo build --release -p swarmgate-swarm` when missing), SWARM_THREADS (passed as
# `swarm tracker --threads N` when set; unset = its default, one per core).
#
# The load (benches/scripts/tracker/announce.lua): 10,000 torrents, 100,000 peers (10 a torrent, a
# third of them seeders), compact=1, the tracker's default numwant. Every tracker is started fresh
# for each run, with the same 10,000 info-hashes allowed (opentracker from Debian is built
# whitelist-only; swarm gets the same list through --allow-file so both do the same lookup). A
# warm-up announces every one of the 100,000 peers with event=started and checks every answer
# (HTTP 200, a bencoded dictionary with interval and peers, no failure reason); curl then fetches
# one answer, checked by benches/scripts/tracker/check_announce.py; then the measured run picks a
# random torrent and peer per request (one in ten event=started). Each tracker runs twice: wrk's
# default keep-alive, and with `Connection: close` on every request. opentracker closes every
# connection after its answer whatever the client asks, so only the close rows are like for like.
#
# wrk counts a connection that the server closes after a complete answer as a socket read error
# (opentracker answers HTTP/1.1 without `Connection: close` and then closes): those are reported
# in the `closed by server` column, not as failures. The script fails when any run has connect,
# write or timeout errors, an HTTP status above 399, more read errors than answers plus
# connections, or a malformed answer in the warm-up or the curl check.
#
# The tracker and wrk share the machine's cores: the table gives the tracker's CPU use (user +
# system, from /proc/PID/stat, over the measured run) and wrk's (from /usr/bin/time) next to the
# rate (100 % = one core: a wrk near 100 % means the load generator, not the tracker, is the
# limit; the tracker's CPU time per answer is then the fairer figure), and the tracker's peak RSS
# (VmHWM, read before it is stopped).
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
# shellcheck source=lib.sh
source "$REPO_ROOT/benches/scripts/lib.sh"
HELPERS="$REPO_ROOT/benches/scripts/tracker"
LUA="$HELPERS/announce.lua"
DURATION=${1:-${DURATION:-10}}
WORK_DIR=${2:-${WORK_DIR:-}}
WARMUP=${WARMUP:-5}
CONNECTIONS=${CONNECTIONS:-32}
WRK_THREADS=${WRK_THREADS:-1}
TRACKERS=${TRACKERS:-"opentracker swarm"}
PEERS=100000

for value in DURATION WARMUP CONNECTIONS WRK_THREADS; do
    case "${!value}" in '' | *[!0-9]* | 0)
        echo "$value must be a positive whole number, not '${!value}'" >&2
        exit 2
        ;;
    esac
done

need wrk "apt-get install wrk"
need curl "apt-get install curl"
need python3 "apt-get install python3"
need /usr/bin/time "apt-get install time"
case " $TRACKERS " in *" opentracker "*) need opentracker "apt-get install opentracker" ;; esac

use_work_dir swarmgate-tracker-http
chmod 755 "$WORK_DIR" # opentracker drops to user nobody and must read the whitelist

# --- the swarm binary ---------------------------------------------------------------------------
skip_swarm_without tracker TRACKERS

# --- the 10,000 info-hashes, from the lua script itself ---------------------------------------------
WHITELIST="$WORK_DIR/whitelist"
TRACKER_BENCH_WHITELIST="$WHITELIST" wrk -t1 -c1 -d1s -s "$LUA" http://127.0.0.1:9 >/dev/null
[ "$(sort -u "$WHITELIST" | grep -c '^[0-9a-f]\{40\}$')" = 10000 ] || fail "announce.lua did not write 10,000 distinct info-hashes"
FIRST_HASH=$(head -1 "$WHITELIST" | sed 's/../%&/g')

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_tracker NAME PORT LOG: starts it in the background, sets TRACKER_PID, waits for the port.
start_tracker() {
    local name=$1 port=$2 log=$3
    case "$name" in
    opentracker)
        printf 'listen.tcp 127.0.0.1:%s\naccess.whitelist %s\n' "$port" "$WHITELIST" >"$WORK_DIR/opentracker.conf"
        # It chroots to its working folder and drops to nobody.
        (cd "$WORK_DIR" && exec opentracker -f "$WORK_DIR/opentracker.conf") >"$log" 2>&1 &
        ;;
    swarm)
        # shellcheck disable=SC2086
        "$SWARM" tracker --http "127.0.0.1:$port" --allow-file "$WHITELIST" \
            ${SWARM_THREADS:+--threads $SWARM_THREADS} >"$log" 2>&1 &
        ;;
    esac
    TRACKER_PID=$!
    PIDS+=("$TRACKER_PID")
    for _ in $(seq 1 100); do
        kill -0 "$TRACKER_PID" 2>/dev/null || { cat "$log" >&2; fail "$name exited at start"; }
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.1
    done
    cat "$log" >&2
    fail "$name is not listening on 127.0.0.1:$port after 10 s"
}

# stop_tracker NAME: SIGTERM, then SIGKILL after 5 s; swarm must exit 0.
stop_tracker() {
    local name=$1 status=0
    kill -TERM "$TRACKER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$TRACKER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$TRACKER_PID" 2>/dev/null && echo "NOTE: $name did not stop on SIGTERM within 5 s" >&2
    wait "$TRACKER_PID" 2>/dev/null || status=$?
    forget "$TRACKER_PID"
    if [ "$name" = swarm ] && [ "$status" != 0 ]; then
        echo "NOTE: swarm tracker exited $status on SIGTERM (expected 0)" >&2
    fi
}

cpu_ticks() { # utime + stime of a pid, in clock ticks
    awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

# summary FILE KEY: a value from announce.lua's wrk-summary line.
summary() { sed -n "s/^wrk-summary.* $2=\([0-9]*\).*/\1/p" "$1"; }

# check_errors FILE WHAT: fails on any error but the server's closes.
check_errors() {
    local file=$1 what=$2 key
    grep -q '^wrk-summary' "$file" || { cat "$file" >&2; fail "$what: no summary from wrk"; }
    for key in connect write timeout status; do
        [ "$(summary "$file" "$key")" = 0 ] || { cat "$file" >&2; fail "$what: wrk counted $key errors"; }
    done
    [ "$(summary "$file" read)" -le $(($(summary "$file" requests) + CONNECTIONS)) ] ||
        { cat "$file" >&2; fail "$what: more read errors than answers"; }
}

RESULTS="$WORK_DIR/results.txt"
: >"$RESULTS"
TICKS=$(getconf CLK_TCK)
for tracker in $TRACKERS; do
    for mode in keep-alive close; do
        run="$tracker-$mode"
        headers=()
        [ "$mode" = close ] && headers=(-H "Connection: close")
        port=$(free_port)
        url="http://127.0.0.1:$port"
        say "$run: starting $tracker on $url"
        start_tracker "$tracker" "$port" "$WORK_DIR/$run.log"

        # Warm-up rounds until every peer has announced (a slow tracker needs more than one).
        announced=0
        for round in 1 2 3 4 5 6; do
            say "$run: warm-up $round, ${WARMUP}s (announces peers $announced.. with event=started, checks every answer)"
            log="$WORK_DIR/$run.warmup-$round.txt"
            wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" "${headers[@]}" -s "$LUA" "$url" -- warmup "$announced" \
                >"$log" 2>&1 || { cat "$log" >&2; fail "$run: wrk failed in the warm-up"; }
            check_errors "$log" "$run warm-up"
            answers=$(summary "$log" requests)
            checked=$(summary "$log" checked)
            bad=$(summary "$log" bad)
            [ "$bad" = 0 ] || { cat "$log" >&2; fail "$run: $bad malformed or failed answers in the warm-up"; }
            if [ "$checked" != "$answers" ] || [ "$checked" = 0 ]; then
                fail "$run: the warm-up checked $checked of $answers answers"
            fi
            announced=$((announced + checked))
            [ "$announced" -lt "$PEERS" ] || break
        done
        [ "$announced" -ge "$PEERS" ] || fail "$run: only $announced answers in 6 warm-ups of ${WARMUP}s, fewer than the $PEERS peers"

        say "$run: one answer by hand (curl)"
        curl -sS --max-time 5 "${headers[@]}" -o "$WORK_DIR/$run.curl.body" \
            "$url/announce?info_hash=$FIRST_HASH&peer_id=-CURL00-000000000000&port=6881&uploaded=0&downloaded=0&left=1&compact=1" ||
            fail "$run: curl got no answer"
        python3 "$HELPERS/check_announce.py" "$tracker" 1 <"$WORK_DIR/$run.curl.body" >&2 || fail "$run: malformed answer to curl"

        say "$run: measured run, ${DURATION}s"
        before=$(cpu_ticks "$TRACKER_PID")
        /usr/bin/time -f "%U %S" -o "$WORK_DIR/$run.wrk-time.txt" \
            wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${DURATION}s" "${headers[@]}" -s "$LUA" "$url" -- measure \
            >"$WORK_DIR/$run.measure.txt" 2>&1 || { cat "$WORK_DIR/$run.measure.txt" >&2; fail "$run: wrk failed"; }
        after=$(cpu_ticks "$TRACKER_PID")
        check_errors "$WORK_DIR/$run.measure.txt" "$run"
        rss=$(awk '/^VmHWM:/ { print $2 }' "/proc/$TRACKER_PID/status")
        threads=$(awk '/^Threads:/ { print $2 }' "/proc/$TRACKER_PID/status")
        stop_tracker "$tracker"
        requests=$(summary "$WORK_DIR/$run.measure.txt" requests)
        duration=$(summary "$WORK_DIR/$run.measure.txt" duration_us)
        closes=$(summary "$WORK_DIR/$run.measure.txt" read)
        wrk_cpu=$(awk '{ print $1 + $2 }' "$WORK_DIR/$run.wrk-time.txt")
        echo "$tracker $mode $requests $duration $closes $((after - before)) $rss $threads $wrk_cpu" >>"$RESULTS"
        awk -v r="$requests" -v d="$duration" -v name="$run" 'BEGIN { printf "%s: %.0f announces/s\n", name, r / (d / 1e6) }' >&2
    done
done

echo
echo "| tracker | connections | announces/s | answers | closed by server | tracker CPU % | tracker CPU µs per answer | wrk CPU % | tracker threads | peak RSS MiB |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
awk -v ticks="$TICKS" '{
    secs = $4 / 1e6
    printf "| %s | %s | %.0f | %d | %d | %.0f | %.1f | %.0f | %d | %.1f |\n", $1, $2, $3 / secs, $3, $5, 100 * $6 / ticks / secs,
        1e6 * $6 / ticks / $3, 100 * $9 / secs, $8, $7 / 1024
}' "$RESULTS"
if grep -q '^swarm ' "$RESULTS" && grep -q '^opentracker ' "$RESULTS"; then
    echo
    for mode in keep-alive close; do
        awk -v mode="$mode" '$2 == mode { rate[$1] = $3 / ($4 / 1e6) }
            END { if (rate["opentracker"] > 0) printf "swarm / opentracker, %s: %.2fx\n", mode, rate["swarm"] / rate["opentracker"] }' "$RESULTS"
    done
fi
echo
WRK_VERSION=$(wrk -v 2>&1 | sed -n 's/^wrk \([^ ]*\).*/\1/p' || true)
echo "load: wrk $WRK_VERSION, $WRK_THREADS thread(s), $CONNECTIONS connections, warm-up in rounds of ${WARMUP}s until every peer announced (every answer checked), then ${DURATION}s measured; benches/scripts/tracker/announce.lua"
echo "swarms: 10,000 torrents, 100,000 peers (10 a torrent, 1/3 seeders), compact=1, default numwant, random torrent and peer per request, 1 in 10 event=started; the 10,000 info-hashes allowed on both trackers"
echo "close rows: every request carries 'Connection: close'; opentracker closes after every answer in both rows, so keep-alive is not like for like"
grep -q '^opentracker ' "$RESULTS" && echo "opentracker: Debian $(dpkg-query -W -f='${Version}' opentracker 2>/dev/null || echo '?'), config listen.tcp + access.whitelist"
grep -q '^swarm ' "$RESULTS" && echo "swarm: $SWARM tracker --http ADDR --allow-file WHITELIST${SWARM_THREADS:+ --threads $SWARM_THREADS}"
[ -z "$SWARM_NOTE" ] || echo "NOTE: $SWARM_NOTE"
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'); the tracker and wrk share them (loopback, same run)"
