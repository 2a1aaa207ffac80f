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
