#!/usr/bin/env bash
# Shared by the benchmark scripts: logging, wrk installation, background processes that are
# always stopped on exit, and waiting for a server to answer. Source it after `set -euo
# pipefail` and `cd` to the repository root.

log() { printf '==> %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# --- tools and binaries ---------------------------------------------------------------------

if ! command -v wrk >/dev/null 2>&1; then
    log "installing wrk"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get install -y wrk >/dev/null 2>&1 ||
        { $sudo apt-get update && $sudo apt-get install -y wrk; }
fi

# --- background processes -------------------------------------------------------------------

TMP=$(mktemp -d "${TMPDIR:-/tmp}/timebridge-bench.XXXXXX")
PIDS=()

cleanup() {
    local status=$? pid f
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ "$status" -eq 0 ]; then
        rm -rf "$TMP"
    else
        for f in "$TMP"/*.log; do
            [ -s "$f" ] && { printf -- '--- last lines of %s\n' "$f" >&2; tail -n 5 "$f" >&2; }
        done
        log "failed; logs kept in $TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# stop PID: ends one of our background processes and forgets it.
stop() {
    local pid=$1 keep=() p
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

# wait_for URL PID: polls URL until it answers 2xx; gives up after 30 s or if PID exits.
wait_for() {
    local url=$1 pid=$2 deadline=$((SECONDS + 30))
    while ((SECONDS < deadline)); do
        curl -sf --max-time 1 -o /dev/null "$url" && return 0
        kill -0 "$pid" 2>/dev/null || die "the server for $url exited during start-up"
        sleep 0.1
    done
    die "$url did not answer within 30 s"
}

