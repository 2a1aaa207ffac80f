#!/usr/bin/env bash
# The fuzz campaign: every target (or those named) for RUNS executions or MAX_SECONDS, whichever
# comes first, one after another on one core, then its corpus minimised into fuzz/seeds/TARGET.
#
#   fuzz/campaign.sh [TARGET...]
#
# Each target starts from fuzz/seeds/TARGET (kept in git: what earlier campaigns found) and
# fuzz/corpus/TARGET (not kept: this machine's working corpus, where new inputs go). A crash, a
# timeout (one input taking over UNIT_TIMEOUT s) or an out-of-memory (over RSS_LIMIT_MB) stops
# the target, leaves its input in fuzz/artifacts/TARGET, and makes the script exit 1 at the end.
# After a clean run the union of both corpora is merged (libFuzzer -merge=1: the smallest set
# with the same coverage) into a fresh fuzz/seeds/TARGET.
#
# Figures go to OUT (default fuzz/campaign.md): a Markdown table of executions, seconds,
# executions a second, coverage (libFuzzer's `cov`) and features at the end, peak RSS, seeds
# before and after the merge, and crashes. The raw logs stay in fuzz/logs/.
#
# Environment: RUNS (10000000), MAX_SECONDS (3600), UNIT_TIMEOUT (10), RSS_LIMIT_MB (2048),
# MAX_LEN (libFuzzer's default when unset), OUT. Needs the nightly toolchain and cargo-fuzz.
set -euo pipefail

cd "$(dirname "$0")"
RUNS=${RUNS:-10000000}
MAX_SECONDS=${MAX_SECONDS:-3600}
UNIT_TIMEOUT=${UNIT_TIMEOUT:-10}
RSS_LIMIT_MB=${RSS_LIMIT_MB:-2048}
OUT=${OUT:-campaign.md}

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

cargo +nightly fuzz build -O
mkdir -p logs

{
    echo "| target | executions | seconds | exec/s | cov | ft | peak RSS MB | seeds before | seeds after | crashes |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
} >"$OUT"

failed=0
for target in "${targets[@]}"; do
    seeds="seeds/$target"
    corpus="corpus/$target"
    log="logs/$target.log"
    mkdir -p "$seeds" "$corpus" "artifacts/$target"
    before=$(find "$seeds" -type f | wc -l)
    extra=()
    [ -n "${MAX_LEN:-}" ] && extra+=("-max_len=$MAX_LEN")
    echo "== $target: up to $RUNS runs or $MAX_SECONDS s, from $before seeds" >&2
    status=0
    cargo +nightly fuzz run -O "$target" "$corpus" "$seeds" -- \
        -runs="$RUNS" -max_total_time="$MAX_SECONDS" -timeout="$UNIT_TIMEOUT" \
        -rss_limit_mb="$RSS_LIMIT_MB" -print_final_stats=1 "${extra[@]}" \
        >"$log" 2>&1 || status=$?
    stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -n 1; }
    execs=$(stat number_of_executed_units)
    seconds=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
    per_second=$(stat average_exec_per_sec)
    rss=$(stat peak_rss_mb)
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    crashes=$(find "artifacts/$target" -type f | wc -l)
    if [ "$status" -ne 0 ] || [ "$crashes" -ne 0 ]; then
        failed=1
        after="(not merged)"
        echo "!! $target: exit $status, $crashes artifacts; see fuzz/$log" >&2
    else
        merged=$(mktemp -d)
        cargo +nightly fuzz run -O "$target" -- -merge=1 "$merged" "$corpus" "$seeds" \
            >>"$log" 2>&1
        rm -rf "$seeds"
        mv "$merged" "$seeds"
        chmod 755 "$seeds"
        after=$(find "$seeds" -type f | wc -l)
    fi
    echo "| \`$target\` | ${execs:-?} | ${seconds:-?} | ${per_second:-?} | ${cov:-?} | ${ft:-?} | ${rss:-?} | $before | $after | $crashes |" >>"$OUT"
    echo "   $target: ${execs:-?} runs in ${seconds:-?} s, ${crashes} crashes, seeds $before -> $after" >&2
done
cat "$OUT"
exit "$failed"
