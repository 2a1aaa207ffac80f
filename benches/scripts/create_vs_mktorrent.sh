#!/usr/bin/env bash
# `swarm create` against mktorrent on one large file, and our hashing rate against the machine's
# SHA-1 ceiling.
#
#   benches/scripts/create_vs_mktorrent.sh [SIZE_MIB [WORK_DIR]]
#
# Environment (arguments win): SIZE_MIB (default 2048), WORK_DIR (default: a fresh mktemp -d under
# /tmp, removed at exit; a WORK_DIR you name is kept, and its input file is reused when it already
# has the right size), RUNS (timed runs per tool, default 3), SWARM_BIN (a `swarm` binary to use
# instead of building target/release/swarm).
#
# Goals (from the issue): `swarm create` faster than `mktorrent -t 2` on 2 cores, and our hashing
# rate at least 85 % of (single-core SHA-1 rate x cores). Both tools read the same file from the
# page cache, with the same piece length (4 MiB), so the comparison is hashing and I/O overhead.
# If the swarm binary is missing or has no working `create`, the swarm half is skipped with a note
# and the rest (mktorrent, SHA-1 rate, table) still runs.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
LT_TOOL="$REPO_ROOT/crates/metainfo/tests/metainfo/support/libtorrent_tool.py"

SIZE_MIB=${1:-${SIZE_MIB:-2048}}
WORK_DIR=${2:-${WORK_DIR:-}}
RUNS=${RUNS:-3}
PIECE_LOG2=22 # 4 MiB pieces for both tools
PIECE_LENGTH=$((1 << PIECE_LOG2))

case "$SIZE_MIB" in '' | *[!0-9]*)
    echo "SIZE_MIB must be a whole number of MiB, not '$SIZE_MIB'" >&2
    exit 2
    ;;
esac
case "$RUNS" in '' | *[!0-9]* | 0)
    echo "RUNS must be a positive whole number, not '$RUNS'" >&2
    exit 2
    ;;
esac
SIZE_BYTES=$((SIZE_MIB * 1024 * 1024))

if [ -z "$WORK_DIR" ]; then
    WORK_DIR=$(mktemp -d /tmp/swarmgate-create-bench.XXXXXX)
    trap 'rm -rf "$WORK_DIR"' EXIT
else
    mkdir -p "$WORK_DIR"
fi
WORK_DIR=$(cd "$WORK_DIR" && pwd)

INPUT="$WORK_DIR/input-${SIZE_MIB}MiB.bin"
OUT_SWARM="$WORK_DIR/swarm.torrent"
OUT_MKT="$WORK_DIR/mktorrent.torrent"

# A python 3 for arithmetic and JSON; Debian's has libtorrent too, but any will do here.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

say() { echo "== $*"; }

command -v mktorrent >/dev/null || {
    echo "mktorrent is not installed (apt-get install mktorrent)" >&2
    exit 1
}

# --- the swarm binary -----------------------------------------------------------------------
SWARM=${SWARM_BIN:-}
SWARM_NOTE=""
if [ -z "$SWARM" ]; then
    say "building swarm (cargo build --release -p swarmgate-swarm)"
    if (cd "$REPO_ROOT" && cargo build --release -p swarmgate-swarm); then
        SWARM="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release/swarm"
    else
        SWARM_NOTE="the release build of swarmgate-swarm failed"
    fi
fi
if [ -z "$SWARM_NOTE" ] && [ ! -x "$SWARM" ]; then
    SWARM_NOTE="no swarm binary at $SWARM"
fi

# --- the input file, in the page cache ------------------------------------------------------
if [ -f "$INPUT" ] && [ "$(stat -c %s "$INPUT")" -eq "$SIZE_BYTES" ]; then
    say "reusing $INPUT"
else
    say "writing $SIZE_MIB MiB of random bytes to $INPUT"
    if command -v openssl >/dev/null; then
        # AES-CTR over zeros: incompressible, fast, and the same bytes every time.
        head -c "$SIZE_BYTES" /dev/zero |
            openssl enc -aes-128-ctr -nosalt -pbkdf2 -pass pass:swarmgate >"$INPUT"
    else
        "$PY" - "$INPUT" "$SIZE_BYTES" <<'EOF'
import os, sys
path, left = sys.argv[1], int(sys.argv[2])
with open(path, "wb") as f:
    while left:
        n = min(left, 1 << 24)
        f.write(os.urandom(n))
        left -= n
EOF
    fi
    if [ "$(stat -c %s "$INPUT")" -ne "$SIZE_BYTES" ]; then
        echo "the input file has the wrong size" >&2
        exit 1
    fi
fi
say "warming the page cache"
cat "$INPUT" >/dev/null

# --- a smoke run of each tool: is it there, does it write a torrent? ------------------------
q() { printf '%q' "$1"; }
SWARM_CMD="$(q "$SWARM") create $(q "$INPUT") -o $(q "$OUT_SWARM") --piece-length $PIECE_LENGTH"
MKT_CMD="mktorrent -t 2 -l $PIECE_LOG2 -o $(q "$OUT_MKT") $(q "$INPUT")"

if [ -z "$SWARM_NOTE" ]; then
    rm -f "$OUT_SWARM"
    if ! bash -c "$SWARM_CMD" >"$WORK_DIR/swarm-smoke.log" 2>&1; then
        SWARM_NOTE="'swarm create' failed: $(tail -n 3 "$WORK_DIR/swarm-smoke.log" | tr '\n' ' ')"
    elif [ ! -s "$OUT_SWARM" ]; then
        SWARM_NOTE="'swarm create' exited 0 but wrote no torrent (not implemented yet?)"
    fi
fi
if [ -n "$SWARM_NOTE" ]; then
    echo "NOTE: skipping the swarm half: $SWARM_NOTE"
fi
rm -f "$OUT_MKT"
bash -c "$MKT_CMD" >"$WORK_DIR/mktorrent-smoke.log" 2>&1 || {
    cat "$WORK_DIR/mktorrent-smoke.log" >&2
    exit 1
}

# --- timings --------------------------------------------------------------------------------
# Each tool: name, command, the output to remove before each run (mktorrent will not overwrite).
NAMES=()
CMDS=()
OUTS=()
if [ -z "$SWARM_NOTE" ]; then
    NAMES+=("swarm create")
    CMDS+=("$SWARM_CMD")
    OUTS+=("$OUT_SWARM")
fi
NAMES+=("mktorrent -t 2")
CMDS+=("$MKT_CMD")
OUTS+=("$OUT_MKT")

TIMES_JSON="$WORK_DIR/times.json"
if command -v hyperfine >/dev/null; then
    say "timing with hyperfine: 1 warm-up and $RUNS runs per tool"
    args=(--warmup 1 --runs "$RUNS" --export-json "$TIMES_JSON" --style basic)
    for i in "${!NAMES[@]}"; do
        args+=(--prepare "rm -f $(q "${OUTS[$i]}")" -n "${NAMES[$i]}" "${CMDS[$i]}")
    done
    hyperfine "${args[@]}"
else
    say "hyperfine not found: timing with a shell loop, 1 warm-up and $RUNS runs per tool"
    {
        echo '{"results": ['
        for i in "${!NAMES[@]}"; do
            times=()
            for run in $(seq 0 "$RUNS"); do
                rm -f "${OUTS[$i]}"
                t0=$(date +%s.%N)
                bash -c "${CMDS[$i]}" >/dev/null 2>&1
                t1=$(date +%s.%N)
                if [ "$run" -gt 0 ]; then
                    times+=("$("$PY" -c "print($t1 - $t0)")")
                fi
            done
            [ "$i" -gt 0 ] && echo ','
            echo "{\"command\": \"${NAMES[$i]}\", \"times\": [$(IFS=,; echo "${times[*]}")]}"
        done
        echo ']}'
    } >"$TIMES_JSON"
fi

# --- the single-core SHA-1 rate -------------------------------------------------------------
CORES=$(nproc)
say "measuring the single-core SHA-1 rate"
if command -v openssl >/dev/null; then
    # "sha1  1872953.34k": thousands of bytes per second over 16 KiB blocks.
    SHA1_RATE=$(openssl speed -bytes 16384 -seconds 3 sha1 2>/dev/null |
        awk '$1 == "sha1" && $2 ~ /k$/ { sub(/k$/, "", $2); printf "%.0f", $2 * 1000 }')
    SHA1_HOW="openssl speed -bytes 16384 -seconds 3 sha1"
else
    SHA1_RATE=$("$PY" - <<'EOF'
import hashlib, time
buf = bytes(16 << 20)
n, t0 = 0, time.perf_counter()
while time.perf_counter() - t0 < 3:
    hashlib.sha1(buf).digest()
    n += len(buf)
print(round(n / (time.perf_counter() - t0)))
EOF
)
    SHA1_HOW="python hashlib.sha1 over a 16 MiB buffer for 3 s"
fi
if [ -z "$SHA1_RATE" ]; then
    echo "could not measure the SHA-1 rate" >&2
    exit 1
fi

# --- info-hashes ----------------------------------------------------------------------------
HASH_LINES=""
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import libtorrent' 2>/dev/null; then
    files=("$OUT_MKT")
    [ -z "$SWARM_NOTE" ] && files=("$OUT_SWARM" "$OUT_MKT")
    HASH_LINES=$(/usr/bin/python3 "$LT_TOOL" info "${files[@]}")
fi

# --- the report -----------------------------------------------------------------------------
CPU_MODEL=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
SHA_NI=$(grep -qw sha_ni /proc/cpuinfo && echo yes || echo no)
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

echo
"$PY" - "$TIMES_JSON" "$SIZE_BYTES" "$SHA1_RATE" "$CORES" "$HASH_LINES" <<'EOF'
import json, statistics, sys

times_json, size, sha1_rate, cores, hash_lines = sys.argv[1:6]
size, sha1_rate, cores = int(size), float(sha1_rate), int(cores)
ceiling = sha1_rate * cores
results = json.load(open(times_json))["results"]

print("| tool | median s | MB/s | %% of SHA-1 x %d cores |" % cores)
print("|---|---:|---:|---:|")
medians = {}
for r in results:
    med = statistics.median(r["times"])
    medians[r["command"]] = med
    rate = size / med
    print("| %s | %.3f | %.0f | %.1f %% |" % (r["command"], med, rate / 1e6, 100 * rate / ceiling))
print()
print("single-core SHA-1: %.0f MB/s; x %d cores = %.0f MB/s (MB = 10^6 bytes)"
      % (sha1_rate / 1e6, cores, ceiling / 1e6))
if "swarm create" in medians:
    s, m = medians["swarm create"], medians["mktorrent -t 2"]
    ours = 100 * size / s / ceiling
    print("swarm create vs mktorrent -t 2: %.2fx (%s); hashing rate %.1f %% of the ceiling (goal >= 85 %%: %s)"
          % (m / s, "faster" if s < m else "not faster", ours, "met" if ours >= 85 else "NOT met"))

if hash_lines.strip():
    print()
    infos = [json.loads(l) for l in hash_lines.splitlines() if l.strip()]
    for i in infos:
        print("v1 info-hash %s  %s%s" % (i["v1"], i["file"], "" if i["ok"] else "  (libtorrent: %s)" % i["error"]))
    if len(infos) == 2:
        a, b = infos[0]["v1"], infos[1]["v1"]
        if a and a == b:
            print("v1 info-hashes match: both tools wrote the same info dictionary")
        else:
            print("v1 info-hashes differ: the info dictionaries differ (keys or values), "
                  "e.g. a hybrid v1+v2 torrent, extra keys, or a different name or piece length")
EOF
echo
echo "machine: $CORES cores, $CPU_MODEL (sha_ni: $SHA_NI), load average $LOAD at the end"
echo "both cores shared by the tool under test; input in page cache"
echo "input: $SIZE_MIB MiB of random bytes, piece length $PIECE_LENGTH; $RUNS runs per tool after 1 warm-up; SHA-1 rate by $SHA1_HOW"
if [ -n "$SWARM_NOTE" ]; then
    echo "NOTE: swarm was not measured: $SWARM_NOTE"
fi
