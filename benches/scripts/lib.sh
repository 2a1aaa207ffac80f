# shellcheck shell=bash
# What the loopback benchmark scripts share: checks for the programs they compare, the processes
# they start (stopped by the exit trap), their work folder, and the swarm binary under test.
# Source it after setting REPO_ROOT and WORK_DIR (empty: a fresh folder, removed at exit).

say() { echo "== $*" >&2; }
fail() {
    echo "FAILED: $*" >&2
    exit 1
}

need() { # program install-command
    command -v "$1" >/dev/null || {
        echo "missing $1: install it with '$2'" >&2
        exit 2
    }
}

PIDS=() # what we started and have not reaped yet: the exit trap stops them
forget() { # PID: reaped, no longer ours to kill
    local pid kept=()
    for pid in "${PIDS[@]}"; do [ "$pid" = "$1" ] || kept+=("$pid"); done
    PIDS=("${kept[@]}")
}
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}

use_work_dir() { # mktemp-prefix: WORK_DIR made (or kept if named) and made absolute; traps set
    if [ -z "$WORK_DIR" ]; then
        WORK_DIR=$(mktemp -d "/tmp/$1.XXXXXX")
        trap 'cleanup; rm -rf "$WORK_DIR"' EXIT
    else
        mkdir -p "$WORK_DIR"
        trap cleanup EXIT
    fi
    WORK_DIR=$(cd "$WORK_DIR" && pwd)
    trap 'exit 130' INT TERM
}

find_swarm() { # subcommand: sets SWARM (built if missing and unset); fails if it is not there
    if [ -z "${SWARM:-}" ]; then
        SWARM="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release/swarm"
        if [ ! -x "$SWARM" ]; then
            say "building swarm (cargo build --release -p swarmgate-swarm)"
            (cd "$REPO_ROOT" && cargo build --release -p swarmgate-swarm --jobs 2 >&2)
        fi
    fi
    [ -x "$SWARM" ] || fail "no swarm binary at $SWARM (build it with 'cargo build --release -p swarmgate-swarm')"
    "$SWARM" "$1" --help >/dev/null 2>&1
}

skip_swarm_without() { # subcommand list-variable: drops "swarm" from the list if the binary lacks it
    local -n list=$2
    SWARM_NOTE=""
    case " $list " in *" swarm "*)
        if ! find_swarm "$1"; then
            SWARM_NOTE="$SWARM has no '$1' subcommand (an older build?): the swarm rows are skipped"
            echo "NOTE: $SWARM_NOTE" >&2
            list=$(for t in $list; do [ "$t" = swarm ] || echo "$t"; done)
        fi
        ;;
    esac
}

start_gateway() { # data-dir log [flag...]: a gateway (GATEWAY, else built) on free 127.0.0.1 ports
    # Sets GATEWAY_PID (in PIDS), GATEWAY_URL (API, HTTP tracker, web seed) and GATEWAY_PEER
    # (host:port of its peer listener) once its log says where it serves; stop_gateway stops it.
    local dir=$1 log=$2 line
    shift 2
    if [ -z "${GATEWAY:-}" ]; then
        GATEWAY="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release/gateway"
        if [ ! -x "$GATEWAY" ]; then
            say "building the gateway (cargo build --release -p swarmgate-gateway)"
            (cd "$REPO_ROOT" && cargo build --release -p swarmgate-gateway --jobs 2 >&2)
        fi
    fi
    [ -x "$GATEWAY" ] || fail "no gateway binary at $GATEWAY"
    # The DHT node on loopback, joining nobody (set GATEWAY_DHT_FLAGS= for a gateway built
    # before the DHT, which has no such flags).
    # shellcheck disable=SC2086
    NO_COLOR=1 "$GATEWAY" --data-dir "$dir" --http-addr 127.0.0.1:0 --udp-tracker-addr 127.0.0.1:0 \
        --peer-addr 127.0.0.1:0 ${GATEWAY_DHT_FLAGS---dht-addr 127.0.0.1:0 --dht-bootstrap=} "$@" >"$log" 2>&1 &
    GATEWAY_PID=$!
    PIDS+=("$GATEWAY_PID")
    for _ in $(seq 1 600); do
        kill -0 "$GATEWAY_PID" 2>/dev/null || { cat "$log" >&2; fail "the gateway exited at start"; }
        line=$(sed 's/\x1b\[[0-9;]*m//g' "$log")
        GATEWAY_URL=$(echo "$line" | sed -n 's/.*HTTP API, tracker and web seed on \(http:[^ ]*\).*/\1/p')
        GATEWAY_PEER=$(echo "$line" | sed -n 's/.* peers on \([0-9.:]*\) .*/\1/p')
        [ -n "$GATEWAY_URL" ] && [ -n "$GATEWAY_PEER" ] && return 0
        sleep 0.1
    done
    cat "$log" >&2
    fail "the gateway did not say where it serves within 60 s"
}

stop_gateway() { # SIGTERM to GATEWAY_PID, SIGKILL after 40 s; fails unless it exits 0
    local status=0
    kill -TERM "$GATEWAY_PID" 2>/dev/null || true
    for _ in $(seq 1 400); do kill -0 "$GATEWAY_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$GATEWAY_PID" 2>/dev/null && echo "NOTE: the gateway ignored SIGTERM for 40 s" >&2
    wait "$GATEWAY_PID" 2>/dev/null || status=$?
    forget "$GATEWAY_PID"
    [ "$status" = 0 ] || fail "the gateway exited $status on SIGTERM"
}
