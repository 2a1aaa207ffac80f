#!/usr/bin/env bash
# UDP (BEP 15) responses per second: `swarm tracker --udp` against aquatic_udp and opentracker's
# UDP, under aquatic_udp_load_test, on loopback.
#
#   benches/scripts/tracker_udp_vs_aquatic.sh [SECONDS [WORK_DIR]]
#
# Environment (arguments win): DURATION (measured seconds per run, default 10, rounded up to a
# multiple of 5: the load test averages 5-second intervals), WORK_DIR (default: a fresh mktemp -d,
# removed at exit; a WORK_DIR you name is kept, with every config and log), WARMUP (seconds before
# the measured part of each run, default 5, a multiple of 5), TRACKER_WORKERS (aquatic's
# socket_workers and `swarm tracker --threads`, default 1), LOAD_WORKERS (the load test's workers,
# default 1), TRACKERS (default "aquatic swarm opentracker"), SCENARIOS (default "bench defaults"),
# SWARM (the swarm binary; default target/release/swarm, built with
# `cargo build --release -p swarmgate-swarm` when missing).
#
# Scenarios. bench: 10,000 torrents and 100,000 peers in the load test, TRACKER_WORKERS tracker
# workers and LOAD_WORKERS load workers (1 + 1 fits the 2 cores). defaults: the load test's and
# aquatic_udp's own defaults (as `-p` prints them: for 0.9.0, 1,000,000 torrents, 2,000,000 peers,
# 1 load worker, 1 socket worker; swarm gets `--threads` = aquatic's socket_workers). Every config
# is aquatic's `-p` output with only the keys named here changed; each run's configs are kept in
# WORK_DIR.
#
# Every tracker allows exactly the load test's info-hashes (Debian's opentracker is built
# whitelist-only): tracker/aquatic_info_hashes.rs, compiled with rustc, replays the load test's
# seeded generator; aquatic gets them as access_list mode "allow", swarm as --allow-file. Each run
# starts the tracker fresh; the load test runs WARMUP + DURATION seconds and summarises the last
# DURATION (summarize_last), so the warm-up populates the swarms (each load worker announces its
# peers in order, so in the bench scenario every peer has announced within the warm-up). Then
# tracker/udp_check.py announces once by hand (a well-formed BEP 15 answer with peers) and scrapes
# every allowed torrent to count the peers the tracker holds. The script fails on any error
# response, a run with no announce responses, or a malformed hand-checked answer.
#
# The table: responses/s (the load test's summary: connect + announce + scrape + error), announce
# responses/s, answered % (responses / requests sent over the measured intervals: the load test
# sends as fast as answers come back, so a tracker that drops datagrams shows below 100 %), peers
# per announce answer, peers held after the run (a tracker holding under half of what another one
# holds is flagged: it did not do the same work), the CPU use of the tracker and of the load test
# over the measured intervals (100 % = one core; the load test polls its sockets without blocking,
# so it takes a whole core per worker), the tracker's threads and peak RSS (VmHWM, read before it
# is stopped). The load test and the tracker share the machine's cores.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
# shellcheck source=lib.sh
source "$REPO_ROOT/benches/scripts/lib.sh"
HELPERS="$REPO_ROOT/benches/scripts/tracker"
DURATION=${1:-${DURATION:-10}}
WORK_DIR=${2:-${WORK_DIR:-}}
WARMUP=${WARMUP:-5}
TRACKER_WORKERS=${TRACKER_WORKERS:-1}
LOAD_WORKERS=${LOAD_WORKERS:-1}
TRACKERS=${TRACKERS:-"aquatic swarm opentracker"}
SCENARIOS=${SCENARIOS:-"bench defaults"}
INTERVAL=5 # the load test's statistics interval

for value in DURATION WARMUP TRACKER_WORKERS LOAD_WORKERS; do
    case "${!value}" in '' | *[!0-9]* | 0)
        echo "$value must be a positive whole number, not '${!value}'" >&2
        exit 2
        ;;
    esac
done
MEASURE=$(((DURATION + INTERVAL - 1) / INTERVAL * INTERVAL))
WARMUP=$(((WARMUP + INTERVAL - 1) / INTERVAL * INTERVAL))
for scenario in $SCENARIOS; do
    case "$scenario" in bench | defaults) ;; *)
        echo "unknown scenario '$scenario' (bench, defaults)" >&2
        exit 2
        ;;
    esac
done

need aquatic_udp_load_test "cargo install aquatic_udp aquatic_udp_load_test"
need aquatic_udp "cargo install aquatic_udp aquatic_udp_load_test"
need rustc "rustup (the Rust toolchain)"
need python3 "apt-get install python3"
case " $TRACKERS " in *" opentracker "*) need opentracker "apt-get install opentracker" ;; esac

use_work_dir swarmgate-tracker-udp
chmod 755 "$WORK_DIR" # opentracker drops to user nobody and must read the whitelist

# --- the swarm binary ---------------------------------------------------------------------------
skip_swarm_without tracker TRACKERS

# --- aquatic's defaults and the info-hash generator ---------------------------------------------
aquatic_udp -p >"$WORK_DIR/aquatic_udp.default.toml"
aquatic_udp_load_test -p >"$WORK_DIR/load_test.default.toml"
# toml_get FILE SECTION KEY / toml_set FILE SECTION KEY VALUE ('' = the top level). The files are
# aquatic's own `-p` output: one `key = value` a line, sections as [name].
toml_get() {
    awk -v section="$2" -v key="$3" '
        /^\[.*\]$/ { current = substr($0, 2, length($0) - 2); next }
        current == section && $1 == key && $2 == "=" { sub(/^[^=]*= */, ""); print; exit }' "$1"
}
toml_set() {
    local file=$1 section=$2 key=$3 value=$4
    awk -v section="$section" -v key="$key" -v value="$value" '
        /^\[.*\]$/ { current = substr($0, 2, length($0) - 2) }
        current == section && $1 == key && $2 == "=" { print key " = " value; found = 1; next }
        { print }
        END { if (!found) exit 3 }' "$file" >"$file.new" || fail "no key $key in [$section] of $file"
    mv "$file.new" "$file"
}
DEFAULT_SOCKET_WORKERS=$(toml_get "$WORK_DIR/aquatic_udp.default.toml" "" socket_workers)
DEFAULT_LOAD_WORKERS=$(toml_get "$WORK_DIR/load_test.default.toml" "" workers)
DEFAULT_TORRENTS=$(toml_get "$WORK_DIR/load_test.default.toml" requests number_of_torrents)
DEFAULT_PEERS=$(toml_get "$WORK_DIR/load_test.default.toml" requests number_of_peers)
[ "$DEFAULT_SOCKET_WORKERS" != 0 ] || DEFAULT_SOCKET_WORKERS=$(nproc) # 0 = one per CPU
rustc -O --edition 2021 -o "$WORK_DIR/aquatic_info_hashes" "$HELPERS/aquatic_info_hashes.rs"

free_udp_port() {
    python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_tracker NAME PORT WORKERS WHITELIST LOG: sets TRACKER_PID, waits for a connect answer.
start_tracker() {
    local name=$1 port=$2 workers=$3 whitelist=$4 log=$5 config
    case "$name" in
    aquatic)
        config="$WORK_DIR/$run.aquatic_udp.toml"
        cp "$WORK_DIR/aquatic_udp.default.toml" "$config"
        toml_set "$config" "" socket_workers "$workers"
        toml_set "$config" network address "\"127.0.0.1:$port\""
        toml_set "$config" access_list mode '"allow"'
        toml_set "$config" access_list path "\"$whitelist\""
        aquatic_udp -c "$config" >"$log" 2>&1 &
        ;;
    opentracker)
        config="$WORK_DIR/$run.opentracker.conf"
        printf 'listen.udp 127.0.0.1:%s\naccess.whitelist %s\n' "$port" "$whitelist" >"$config"
        # It chroots to its working folder and drops to nobody.
        (cd "$WORK_DIR" && exec opentracker -f "$config") >"$log" 2>&1 &
        ;;
    swarm)
        "$SWARM" tracker --udp "127.0.0.1:$port" --allow-file "$whitelist" --threads "$workers" >"$log" 2>&1 &
        ;;
    esac
    TRACKER_PID=$!
    PIDS+=("$TRACKER_PID")
    python3 "$HELPERS/udp_check.py" wait "$port" || { cat "$log" >&2; fail "$name did not start on 127.0.0.1:$port"; }
    kill -0 "$TRACKER_PID" 2>/dev/null || { cat "$log" >&2; fail "$name exited at start"; }
}

stop_tracker() { # NAME: SIGTERM, then SIGKILL after 5 s; swarm must exit 0.
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

cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# wait_intervals FILE N PID [LOAD_TEST_PID]: until the load test has printed N statistics intervals
# (or exited). Sets LOAD_TICKS to the load test's CPU ticks read last (every 20 ms while waiting):
# it exits right after its last interval, before the script could read them.
wait_intervals() {
    LOAD_TICKS=$(cpu_ticks "${4:-0}")
    while [ "$(grep -c '^Responses in:' "$1" 2>/dev/null || true)" -lt "$2" ]; do
        kill -0 "$3" 2>/dev/null || return 0
        sleep 0.02
        [ -z "${4:-}" ] || LOAD_TICKS=$(cpu_ticks "$4" | awk -v last="$LOAD_TICKS" '{ print ($1 > last) ? $1 : last }')
    done
}

# report FILE NAME: a figure from the load test's final report.
report() { sed -n '/^# aquatic load test report/,$p' "$1" | sed -n "s/^ *\(- \)\?$2: *\([0-9.]*\).*/\2/p" | head -1; }

RESULTS="$WORK_DIR/results.txt"
: >"$RESULTS"
TICKS=$(getconf CLK_TCK)
for scenario in $SCENARIOS; do
    if [ "$scenario" = bench ]; then
        torrents=10000 peers=100000 workers=$TRACKER_WORKERS load_workers=$LOAD_WORKERS
    else
        torrents=$DEFAULT_TORRENTS peers=$DEFAULT_PEERS workers=$DEFAULT_SOCKET_WORKERS load_workers=$DEFAULT_LOAD_WORKERS
    fi
    whitelist="$WORK_DIR/whitelist-$torrents"
    [ -s "$whitelist" ] || "$WORK_DIR/aquatic_info_hashes" "$torrents" >"$whitelist"
    for tracker in $TRACKERS; do
        run="$scenario-$tracker"
        port=$(free_udp_port)
        say "$run: starting $tracker on udp://127.0.0.1:$port ($workers worker(s) where configurable)"
        start_tracker "$tracker" "$port" "$workers" "$whitelist" "$WORK_DIR/$run.log"

        config="$WORK_DIR/$run.load_test.toml"
        cp "$WORK_DIR/load_test.default.toml" "$config"
        toml_set "$config" "" server_address "\"127.0.0.1:$port\""
        toml_set "$config" "" duration $((WARMUP + MEASURE))
        toml_set "$config" "" summarize_last "$MEASURE"
        toml_set "$config" "" extra_statistics false
        toml_set "$config" "" workers "$load_workers"
        toml_set "$config" requests number_of_torrents "$torrents"
        toml_set "$config" requests number_of_peers "$peers"
        out="$WORK_DIR/$run.load_test.txt"
        say "$run: aquatic_udp_load_test, ${WARMUP}s warm-up + ${MEASURE}s measured, $torrents torrents, $peers peers, $load_workers worker(s)"
        timeout $((WARMUP + MEASURE + 120)) aquatic_udp_load_test -c "$config" >"$out" 2>&1 &
        load_pid=$!
        PIDS+=("$load_pid")
        wait_intervals "$out" $((WARMUP / INTERVAL)) "$load_pid"
        tracker_before=$(cpu_ticks "$TRACKER_PID")
        # The load test itself is timeout's child.
        load_test_pid=$(awk '{ print $1 }' "/proc/$load_pid/task/$load_pid/children" 2>/dev/null || true)
        load_before=$(cpu_ticks "${load_test_pid:-0}")
        wait_intervals "$out" $(((WARMUP + MEASURE) / INTERVAL)) "$load_pid" "${load_test_pid:-0}"
        tracker_after=$(cpu_ticks "$TRACKER_PID")
        load_after=$LOAD_TICKS
        wait "$load_pid" || { tail -20 "$out" >&2; fail "$run: aquatic_udp_load_test failed"; }
        forget "$load_pid"
        grep -q '^# aquatic load test report' "$out" || { tail -20 "$out" >&2; fail "$run: no report from the load test"; }

        responses=$(report "$out" "Average responses per second")
        announces=$(report "$out" "Announce responses")
        errors=$(report "$out" "Error responses")
        if [ -z "$responses" ] || [ -z "$announces" ] || [ -z "$errors" ]; then
            fail "$run: could not read the load test's report ($out)"
        fi
        awk -v e="$errors" 'BEGIN { exit !(e == 0) }' || fail "$run: $errors error responses a second (see $out)"
        awk -v a="$announces" 'BEGIN { exit !(a > 0) }' || fail "$run: no announce responses (see $out)"
        # The measured intervals: the last MEASURE / 5 blocks before the report.
        measured=$(sed -n '/^# aquatic load test report/q; /^Requests out:\|^Responses in:\|^Peers per announce response:/p' "$out" |
            tail -n $((3 * MEASURE / INTERVAL)) | awk '
                /^Requests out:/ { sent += $3 + 0 }
                /^Responses in:/ { got += $3 + 0 }
                /^Peers per announce response:/ { if ($5 ~ /^[0-9.]+$/) peers += $5; n++ }
                END { printf "%.1f %.2f", (sent > 0 ? 100 * got / sent : 0), (n ? peers / n : 0) }')

        say "$run: one announce by hand and a scrape of every torrent"
        held=$(python3 "$HELPERS/udp_check.py" check "$tracker" "$port" "$whitelist" 1 | sed -n 's/^peers-held=//p') ||
            fail "$run: the hand check failed"
        rss=$(awk '/^VmHWM:/ { print $2 }' "/proc/$TRACKER_PID/status")
        threads=$(awk '/^Threads:/ { print $2 }' "/proc/$TRACKER_PID/status")
        stop_tracker "$tracker"
        echo "$scenario $tracker $workers $load_workers $responses $announces $measured $held" \
            "$((tracker_after - tracker_before)) $((load_after - load_before)) $threads $rss" >>"$RESULTS"
        echo "$run: $responses responses/s" >&2
    done
done

for scenario in $SCENARIOS; do
    grep -q "^$scenario " "$RESULTS" || continue
    echo
    if [ "$scenario" = bench ]; then
        echo "bench: 10,000 torrents, 100,000 peers, $TRACKER_WORKERS tracker worker(s), $LOAD_WORKERS load worker(s)"
    else
        echo "defaults: aquatic's defaults: $DEFAULT_TORRENTS torrents, $DEFAULT_PEERS peers, $DEFAULT_SOCKET_WORKERS tracker worker(s), $DEFAULT_LOAD_WORKERS load worker(s)"
    fi
    echo
    echo "| tracker | workers | responses/s | announce responses/s | answered % | peers per announce | peers held | tracker CPU % | tracker CPU µs per response | load test CPU % | tracker threads | peak RSS MiB |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    # A tracker holding under half the peers another one holds did not do the same work: flagged.
    awk -v scenario="$scenario" -v ticks="$TICKS" -v secs="$MEASURE" '$1 == scenario { row[++n] = $0; if ($9 > most) most = $9 }
        END {
            for (i = 1; i <= n; i++) {
                split(row[i], f, " ")
                workers = (f[2] == "opentracker") ? "-" : f[3]
                flag = (f[9] < most / 2) ? " (not like for like, see below)" : ""
                printf "| %s%s | %s | %.0f | %.0f | %.1f | %.1f | %d | %.0f | %.1f | %.0f | %d | %.1f |\n", f[2], flag, workers,
                    f[5], f[6], f[7], f[8], f[9], 100 * f[10] / ticks / secs, 1e6 * f[10] / ticks / (f[5] * secs),
                    100 * f[11] / ticks / secs, f[12], f[13] / 1024
                if (flag != "") notes = notes sprintf("\nNOTE: %s holds %d peers where another tracker holds %d: the load test sends every announce with the all-zero peer id and tells peers apart only by address and port, so a tracker that keys peers by peer id keeps about one peer a torrent and answers with almost none (%.1f peers per announce): its rate is not comparable.", f[2], f[9], most, f[8])
            }
            printf "%s", notes
            if (notes != "") printf "\n"
        }' "$RESULTS"
    awk -v scenario="$scenario" '$1 == scenario { rate[$2] = $5; held[$2] = $9; if ($9 > most) most = $9 }
        END {
            if (rate["swarm"] > 0 && rate["aquatic"] > 0) printf "\nswarm / aquatic_udp: %.2fx", rate["swarm"] / rate["aquatic"]
            if (rate["swarm"] > 0 && rate["opentracker"] > 0) printf "; swarm / opentracker: %.2fx", rate["swarm"] / rate["opentracker"]
            if (rate["swarm"] > 0 && held["swarm"] < most / 2) printf " (not comparable: see the note)"
            if (rate["swarm"] > 0) printf "\n"
        }' "$RESULTS"
done
echo
LT=$WORK_DIR/load_test.default.toml
echo "load: aquatic_udp_load_test $(aquatic_udp_load_test -v 2>&1 | head -1 | awk '{ print $NF }'), ${WARMUP}s warm-up then ${MEASURE}s measured (duration $((WARMUP + MEASURE)), summarize_last $MEASURE);" \
    "defaults kept: sockets_per_worker $(toml_get "$LT" network sockets_per_worker), multiple_client_ipv4s $(toml_get "$LT" network multiple_client_ipv4s)," \
    "weights connect/announce/scrape $(toml_get "$LT" requests weight_connect)/$(toml_get "$LT" requests weight_announce)/$(toml_get "$LT" requests weight_scrape)," \
    "announce_peers_wanted $(toml_get "$LT" requests announce_peers_wanted), peer_seeder_probability $(toml_get "$LT" requests peer_seeder_probability), extra_statistics false"
echo "trackers: every one allows exactly the load test's info-hashes;" \
    "aquatic_udp $(aquatic_udp -v 2>&1 | head -1 | awk '{ print $NF }') (its -p defaults, socket_workers and access_list changed)"
grep -q ' opentracker ' "$RESULTS" && echo "opentracker: Debian $(dpkg-query -W -f='${Version}' opentracker 2>/dev/null || echo '?'), listen.udp + access.whitelist, its worker count is built in"
grep -q ' swarm ' "$RESULTS" && echo "swarm: $SWARM tracker --udp ADDR --allow-file WHITELIST --threads WORKERS"
[ -z "$SWARM_NOTE" ] || echo "NOTE: $SWARM_NOTE"
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'); the tracker and the load test share them (loopback, same run)"
