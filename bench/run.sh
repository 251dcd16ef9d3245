#!/usr/bin/env bash
# Throughput benchmark: Timebridge's authenticated project list against a bare axum handler
# (bench/bare) that returns the same JSON page with no auth and no database.
#
#   bash bench/run.sh
#
# Knobs (environment): DURATION (10s), THREADS (2), CONNECTIONS (64), BENCH_POSTGRES (0).
# See bench/README.md for what the numbers mean. All traffic stays on 127.0.0.1; every
# background process is stopped when the script exits.
set -euo pipefail

cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
BENCH_POSTGRES=${BENCH_POSTGRES:-0}

PROJECTS=1000
API=http://127.0.0.1:18181
BARE=http://127.0.0.1:18190
PG_ADMIN_URL=postgres://postgres@127.0.0.1:5432/postgres
PG_URL=postgres://postgres@127.0.0.1:5432/timebridge_bench
BIN=target/release

# shellcheck source=bench/lib.sh
source bench/lib.sh

log "building release binaries"
cargo build --release -p timebridge -p bare

# --- Timebridge -----------------------------------------------------------------------------

export RUST_LOG=info LOG_FORMAT=json
# The enterprise budget is far above what wrk can send: the rate limiter still runs on every
# request (its cost is part of the measurement) but never rejects the benchmark's traffic.
export RATE_LIMIT_TIER_ENTERPRISE_REQ_PER_MIN=100000000

# start_timebridge LABEL: creates the bench user and token in $DATABASE_URL (sets TOKEN),
# then serves on $API in the background (sets TB_PID; log in $TMP/LABEL.log).
start_timebridge() {
    "$BIN/timebridge" user create --email bench@example.com --name Bench --admin \
        --workspace Bench --plan enterprise >/dev/null 2>>"$TMP/cli.log"
    # The secret is the last line of stdout; logs go to stderr.
    TOKEN=$("$BIN/timebridge" token create --email bench@example.com --name bench \
        --scopes read:projects,write:projects,read:users 2>>"$TMP/cli.log" | tail -n 1)
    [ -n "$TOKEN" ] || die "token create printed no secret"
    serve_timebridge "$1"
}

# serve_timebridge LABEL: serves $DATABASE_URL on $API in the background (sets TB_PID).
serve_timebridge() {
    local label=$1
    "$BIN/timebridge" serve --addr "${API#http://}" >>"$TMP/$label.log" 2>&1 &
    TB_PID=$!
    PIDS+=("$TB_PID")
    wait_for "$API/health" "$TB_PID"
}

# seed: creates $PROJECTS projects, 8 requests at a time, and checks every one got 201.
seed() {
    local cfg=$TMP/seed.curlrc n codes created page
    (
        umask 077
        for ((n = 1; n <= PROJECTS; n++)); do
            ((n == 1)) || printf 'next\n'
            printf 'url = "%s/api/v1/projects"\n' "$API"
            printf 'header = "Authorization: Bearer %s"\n' "$TOKEN"
            printf 'header = "Content-Type: application/json"\n'
            printf 'data = "{\\"name\\":\\"Project %04d\\",\\"hourly_rate\\":85.5}"\n' "$n"
            printf 'output = "/dev/null"\nwrite-out = "%%{http_code}\\n"\nmax-time = 10\n'
        done >"$cfg"
    )
    log "seeding $PROJECTS projects"
    # -s alone does not hide the --parallel progress meter in curl 7.88.
    codes=$(curl -s --no-progress-meter --parallel --parallel-max 8 -K "$cfg" || true)
    created=$(grep -c '^201$' <<<"$codes" || true)
    if [ "$created" -ne "$PROJECTS" ]; then
        sort <<<"$codes" | uniq -c >&2
        die "seeding: $created of $PROJECTS projects created (HTTP status counts above)"
    fi
    page=$(curl -sf --max-time 5 -H "Authorization: Bearer $TOKEN" "$API/api/v1/projects?per_page=50")
    [[ $page == *"\"total\":$PROJECTS,"* ]] || die "the project list does not report $PROJECTS projects"
}

# --- wrk ------------------------------------------------------------------------------------

ROWS=()
FAILED_REQUESTS=0
declare -A RPS

# bench KEY LABEL URL [HEADER]: runs wrk, prints its output, records a summary row.
bench() {
    local key=$1 label=$2 url=$3 out=$TMP/wrk-$1.txt row fields
    local args=(--threads "$THREADS" --connections "$CONNECTIONS" --duration "$DURATION" --latency)
    [ $# -ge 4 ] && args+=(--header "$4")
    log "wrk $label"
    wrk "${args[@]}" "$url" >"$out"
    cat "$out"
    # Latency percentiles are the "Latency Distribution" lines; "Non-2xx or 3xx responses"
    # and "Socket errors" are printed only when non-zero.
    row=$(awk -v label="$label" '
        /^Requests\/sec:/ { rps = $2 }
        $1 == "50%" { p50 = $2 }
        $1 == "99%" { p99 = $2 }
        /Non-2xx or 3xx responses:/ { bad = $NF }
        /Socket errors:/ { gsub(",", ""); errs = $4 + $6 + $8 + $10 }
        END {
            if (rps == "") exit 1
            printf "%-36s %12s %10s %10s %8d %8d\n", label, rps, p50, p99, bad, errs
        }' "$out") || die "cannot parse wrk output ($out)"
    ROWS+=("$row")
    read -r -a fields <<<"$row"
    ((fields[-2] + fields[-1] == 0)) || FAILED_REQUESTS=1
    RPS[$key]=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
}

# ratio NUM DEN LABEL: prints NUM/DEN req/s against the 0.5 target.
ratio() {
    awk -v n="${RPS[$1]}" -v d="${RPS[$2]}" -v label="$3" 'BEGIN {
        r = d > 0 ? n / d : 0
        printf "%s: %.2f (target ≥ 0.5: %s)\n", label, r, r >= 0.5 ? "met" : "NOT met"
    }'
}

# --- run ------------------------------------------------------------------------------------

export DATABASE_URL="sqlite://$TMP/bench.db?mode=rwc"
start_timebridge sqlite
seed

"$BIN/bare" "${BARE#http://}" >>"$TMP/bare.log" 2>&1 &
BARE_PID=$!
PIDS+=("$BARE_PID")
wait_for "$BARE/api/v1/projects" "$BARE_PID"

AUTH="Authorization: Bearer $TOKEN"
bench a "(a) bare GET /api/v1/projects" "$BARE/api/v1/projects"
bench b "(b) GET /api/v1/projects (SQLite)" "$API/api/v1/projects?per_page=50" "$AUTH"
bench c "(c) GET /api/v1/users/me (SQLite)" "$API/api/v1/users/me" "$AUTH"
stop "$TB_PID"
# The same list with the read cache off: every request queries and serializes.
TIMEBRIDGE_READ_CACHE_MB=0 serve_timebridge sqlite-uncached
bench d "(d) (b) with the read cache off" "$API/api/v1/projects?per_page=50" "$AUTH"
stop "$TB_PID"

if [ "$BENCH_POSTGRES" = 1 ]; then
    log "recreating database timebridge_bench"
    PGOPTIONS='-c client_min_messages=warning' psql "$PG_ADMIN_URL" -q -v ON_ERROR_STOP=1 \
        -c 'DROP DATABASE IF EXISTS timebridge_bench' -c 'CREATE DATABASE timebridge_bench'
    export DATABASE_URL=$PG_URL
    TIMEBRIDGE_SECRET_KEY=$(head -c 32 /dev/zero | base64)
    export TIMEBRIDGE_SECRET_KEY
    start_timebridge postgres
    seed
    AUTH="Authorization: Bearer $TOKEN"
    bench b_pg "(b) GET /api/v1/projects (Postgres)" "$API/api/v1/projects?per_page=50" "$AUTH"
    stop "$TB_PID"
    TIMEBRIDGE_READ_CACHE_MB=0 serve_timebridge postgres-uncached
    bench d_pg "(d) (b) on Postgres, cache off" "$API/api/v1/projects?per_page=50" "$AUTH"
    stop "$TB_PID"
fi

echo
echo "wrk: $THREADS threads, $CONNECTIONS connections, $DURATION per target"
printf "%-36s %12s %10s %10s %8s %8s\n" target req/s p50 p99 non-2xx sock-err
printf '%s\n' "${ROWS[@]}"
((FAILED_REQUESTS == 0)) ||
    echo "WARNING: some requests failed (non-2xx or socket errors); those rows' req/s are not valid"
echo
ratio b a "ratio (b)/(a), SQLite"
[ "$BENCH_POSTGRES" = 1 ] && ratio b_pg a "ratio (b)/(a), Postgres"
exit 0
