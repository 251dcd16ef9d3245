#!/usr/bin/env bash
# Webhook fan-out: how fast a backlog of signed deliveries drains, and how long a committed
# change takes to reach its endpoints under steady load, on SQLite and PostgreSQL.
#
#   bash bench/fanout.sh
#
# Knobs: BACKENDS ("sqlite postgres"), ENDPOINTS (32, drain), EVENTS (1000, drain),
# SOURCE (github: events from signed GitHub deliveries; tags: from POST /api/v1/tags),
# LATENCY_ENDPOINTS (4), RATE (1000 events/s), DURATION (10 s), CONNECTIONS (32, latency
# client), GRACE (10 s), WEBHOOK_WORKERS (32), CARGO_TARGET_DIR (where binaries are built),
# BUILD (1; 0 runs the binaries already built), PG_SYNCHRONOUS_COMMIT (on; off trades the
# benchmark database's commit fsync for speed, to see what the disk costs).
# See bench/README.md. Traffic stays on 127.0.0.1; every background process is stopped when
# the script exits.
set -euo pipefail
cd "$(dirname "$0")/.."

BACKENDS=${BACKENDS:-"sqlite postgres"}
ENDPOINTS=${ENDPOINTS:-32}
EVENTS=${EVENTS:-1000}
SOURCE=${SOURCE:-github}
LATENCY_ENDPOINTS=${LATENCY_ENDPOINTS:-4}
RATE=${RATE:-1000}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
GRACE=${GRACE:-10}
BUILD=${BUILD:-1}
PG_SYNCHRONOUS_COMMIT=${PG_SYNCHRONOUS_COMMIT:-on}
WORKERS=${WEBHOOK_WORKERS:-32}
API=http://127.0.0.1:18183
RECEIVER=127.0.0.1:18193
PG_ADMIN_URL=postgres://postgres@127.0.0.1:5432/postgres
PG_URL=postgres://postgres@127.0.0.1:5432/timebridge_bench_fanout
BIN=${CARGO_TARGET_DIR:-target}/release

# shellcheck source=bench/lib.sh
source bench/lib.sh

if [ "$BUILD" = 1 ]; then
    log "building release binaries"
    cargo build --release -p timebridge -p fanout
fi
[ -x "$BIN/timebridge" ] && [ -x "$BIN/fanout" ] || die "no release binaries in $BIN"

export RUST_LOG=info LOG_FORMAT=json
export RATE_LIMIT_TIER_ENTERPRISE_REQ_PER_MIN=100000000
export WEBHOOK_ALLOW_PRIVATE_TARGETS=true TIMEBRIDGE_ENV=development
unset WEBHOOK_WORKERS

RESULTS=()

# prepare BACKEND NAME: a fresh database with the bench admin and its token (sets FANOUT_TOKEN).
prepare() {
    local backend=$1 name=$2
    if [ "$backend" = postgres ]; then
        PGOPTIONS='-c client_min_messages=warning' psql "$PG_ADMIN_URL" -q -v ON_ERROR_STOP=1 \
            -c 'DROP DATABASE IF EXISTS timebridge_bench_fanout WITH (FORCE)' \
            -c 'CREATE DATABASE timebridge_bench_fanout' \
            -c "ALTER DATABASE timebridge_bench_fanout SET synchronous_commit = $PG_SYNCHRONOUS_COMMIT"
        export DATABASE_URL=$PG_URL
        # A fixed all-zero key: fine for a throwaway database, never for real data.
        TIMEBRIDGE_SECRET_KEY=$(head -c 32 /dev/zero | base64)
        export TIMEBRIDGE_SECRET_KEY
    else
        export DATABASE_URL="sqlite://$TMP/$name.db?mode=rwc"
        unset TIMEBRIDGE_SECRET_KEY
    fi
    "$BIN/timebridge" user create --email bench@example.com --name Bench --admin \
        --workspace Bench --plan enterprise >/dev/null 2>>"$TMP/cli.log"
    FANOUT_TOKEN=$("$BIN/timebridge" token create --email bench@example.com --name fanout \
        --scopes admin:all 2>>"$TMP/cli.log" | tail -n 1)
    [ -n "$FANOUT_TOKEN" ] || die "token create printed no secret"
    export FANOUT_TOKEN
}

# serve LABEL WORKERS: serves $DATABASE_URL on $API in the background (sets TB_PID).
serve() {
    WEBHOOK_WORKERS=$2 "$BIN/timebridge" serve --addr "${API#http://}" >>"$TMP/$1.log" 2>&1 &
    TB_PID=$!
    PIDS+=("$TB_PID")
    wait_for "$API/health" "$TB_PID"
}

# record OUTPUT: keeps the RESULT line, prints the human one.
record() {
    local line
    line=$(grep '^RESULT ' <<<"$1") || die "no RESULT line in: $1"
    RESULTS+=("$line")
    grep -v '^RESULT ' <<<"$1" >&2 || true
}

# drain BACKEND: a backlog of ENDPOINTS × EVENTS built with the workers off, then drained.
drain() {
    local backend=$1 recv_pid out
    prepare "$backend" "drain"
    serve "$backend-drain-setup" 0
    log "drain ($backend): $ENDPOINTS endpoints × $EVENTS events, queued with the workers off"
    "$BIN/fanout" drain-setup --api "$API" --receiver "$RECEIVER" --state "$TMP/drain.json" \
        --endpoints "$ENDPOINTS" --events "$EVENTS"
    stop "$TB_PID"
    # Bounded: the receiver gives up after 300 s and reports what is missing.
    "$BIN/fanout" drain-receive --state "$TMP/drain.json" --label "$backend" --timeout 300 \
        >"$TMP/drain-$backend.out" 2>>"$TMP/receiver.log" &
    recv_pid=$!
    PIDS+=("$recv_pid")
    wait_for "http://$RECEIVER/health" "$recv_pid"
    log "drain ($backend): serving with $WORKERS workers"
    serve "$backend-drain" "$WORKERS"
    wait "$recv_pid" || die "drain-receive failed (see $TMP/receiver.log)"
    stop "$recv_pid"
    stop "$TB_PID"
    out=$(cat "$TMP/drain-$backend.out")
    record "$out"
}

# latency BACKEND: RATE events/s for DURATION s to LATENCY_ENDPOINTS endpoints.
latency() {
    local backend=$1 out
    prepare "$backend" "latency"
    serve "$backend-latency" "$WORKERS"
    log "latency ($backend): $RATE events/s for $DURATION s, $LATENCY_ENDPOINTS endpoints"
    # fanout gives up on unanswered requests DURATION (at least 10 s) after the schedule ends.
    out=$(timeout $((2 * DURATION + GRACE + 120)) "$BIN/fanout" latency --api "$API" \
        --endpoints "$LATENCY_ENDPOINTS" --rate "$RATE" --duration "$DURATION" \
        --connections "$CONNECTIONS" --grace "$GRACE" --label "$backend" --source "$SOURCE")
    stop "$TB_PID"
    record "$out"
}

for backend in $BACKENDS; do
    drain "$backend"
    latency "$backend"
done

# field LINE KEY: the value of KEY=… in a RESULT line.
field() { grep -o " $2=[^ ]*" <<<"$1" | cut -d= -f2; }

BAD=0
echo
echo "drain: $ENDPOINTS endpoints × $EVENTS events queued with the workers off, then delivered by $WORKERS workers"
printf "%-9s %10s %9s %8s %12s %8s %8s\n" backend deliveries seconds missing deliveries/s bad-sig dup
for r in "${RESULTS[@]}"; do
    [ "$(field "$r" mode)" = drain ] || continue
    printf "%-9s %10s %9s %8s %12s %8s %8s\n" "$(field "$r" label)" "$(field "$r" delivered)" \
        "$(field "$r" seconds)" "$(field "$r" missing)" "$(field "$r" per_second)" \
        "$(field "$r" bad_signatures)" "$(field "$r" duplicates)"
    (($(field "$r" bad_signatures) == 0)) || BAD=1
done
echo
echo "latency: $RATE events/s for $DURATION s × $LATENCY_ENDPOINTS endpoints, commit (201) → delivery"
printf "%-9s %9s %8s %8s %9s %9s %9s %8s %8s\n" backend events/s unsent missing p50-ms p99-ms max-ms bad-sig dup
for r in "${RESULTS[@]}"; do
    [ "$(field "$r" mode)" = latency ] || continue
    printf "%-9s %9s %8s %8s %9s %9s %9s %8s %8s\n" "$(field "$r" label)" "$(field "$r" achieved)" \
        $(($(field "$r" failed_requests) + $(field "$r" abandoned_requests))) \
        "$(field "$r" missing)" "$(field "$r" p50_ms)" \
        "$(field "$r" p99_ms)" "$(field "$r" max_ms)" "$(field "$r" bad_signatures)" \
        "$(field "$r" duplicates)"
    (($(field "$r" bad_signatures) == 0)) || BAD=1
done
echo
echo "targets: drain ≥ 5,000 deliveries/s; latency p99 < 100 ms; bad signatures 0"
((BAD == 0)) || die "some deliveries failed signature verification"
exit 0
