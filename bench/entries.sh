#!/usr/bin/env bash
# Time-entry list latency by workspace size: an admin's `GET /api/v1/time-entries` filtered to
# the last 7 days, a page of 50, from workspaces of 1,000 / 100,000 / 1,000,000 entries (400 a
# day, so larger workspaces hold longer histories), on SQLite and PostgreSQL, with the read
# cache off so every request runs its queries.
#
#   bash bench/entries.sh
#
# Knobs: SIZES ("1000 100000 1000000"), BACKENDS ("sqlite postgres"), DURATION (10s),
# CONCURRENCY ("1 8": one client alone, then eight at once), WARMUP (3s). See bench/README.md. Traffic stays on 127.0.0.1; every
# background process is stopped when the script exits.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-"1000 100000 1000000"}
BACKENDS=${BACKENDS:-"sqlite postgres"}
DURATION=${DURATION:-10s}
CONCURRENCY=${CONCURRENCY:-"1 8"}
WARMUP=${WARMUP:-3s}
API=http://127.0.0.1:18182
PG_ADMIN_URL=postgres://postgres@127.0.0.1:5432/postgres
PG_URL=postgres://postgres@127.0.0.1:5432/timebridge_bench_entries
BIN=target/release

# shellcheck source=bench/lib.sh
source bench/lib.sh

log "building release binaries"
cargo build --release -p timebridge -p seed

export RUST_LOG=info LOG_FORMAT=json
export RATE_LIMIT_TIER_ENTERPRISE_REQ_PER_MIN=100000000
# Measure the database path: no request is answered from the read cache.
export TIMEBRIDGE_READ_CACHE_MB=0

START=$(date -u -d '6 days ago' +%F)
END=$(date -u +%F)
QUERY="/api/v1/time-entries?start_date=$START&end_date=$END&per_page=50"
ROWS=()

# prepare BACKEND SIZE: a fresh database with the bench user, token (sets TOKEN) and entries.
prepare() {
    local backend=$1 size=$2
    if [ "$backend" = postgres ]; then
        PGOPTIONS='-c client_min_messages=warning' psql "$PG_ADMIN_URL" -q -v ON_ERROR_STOP=1 \
            -c 'DROP DATABASE IF EXISTS timebridge_bench_entries WITH (FORCE)' \
            -c 'CREATE DATABASE timebridge_bench_entries'
        export DATABASE_URL=$PG_URL
        TIMEBRIDGE_SECRET_KEY=$(head -c 32 /dev/zero | base64)
        export TIMEBRIDGE_SECRET_KEY
    else
        export DATABASE_URL="sqlite://$TMP/entries-$size.db?mode=rwc"
        unset TIMEBRIDGE_SECRET_KEY
    fi
    "$BIN/timebridge" user create --email bench@example.com --name Bench --admin \
        --workspace Bench --plan enterprise >/dev/null 2>>"$TMP/cli.log"
    TOKEN=$("$BIN/timebridge" token create --email bench@example.com --name bench \
        --scopes read:time_entries 2>>"$TMP/cli.log" | tail -n 1)
    [ -n "$TOKEN" ] || die "token create printed no secret"
    log "seeding $size entries ($backend)"
    "$BIN/seed-entries" "$DATABASE_URL" bench@example.com "$size" 2>>"$TMP/seed.log"
    if [ "$backend" = postgres ]; then
        psql "$PG_URL" -q -c 'VACUUM ANALYZE' # what autovacuum does after a bulk load
    fi
}

# measure BACKEND SIZE: serves the database and runs wrk against the filtered list, once per
# concurrency level, each after a warm-up run whose numbers are discarded (the pool opens its
# connections, caches fill: a server that has just started is not what clients meet).
measure() {
    local backend=$1 size=$2 pid page total c threads out
    "$BIN/timebridge" serve --addr "${API#http://}" >>"$TMP/$backend-$size.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_for "$API/health" "$pid"
    page=$(curl -sf --max-time 10 -H "Authorization: Bearer $TOKEN" "$API$QUERY")
    total=$(grep -o '"total":[0-9]*' <<<"$page" | head -n1 | cut -d: -f2)
    [[ $page == *'"per_page":50'* ]] && [ -n "$total" ] || die "unexpected list answer: ${page:0:200}"
    for c in $CONCURRENCY; do
        threads=$((c < 2 ? 1 : 2))
        out=$TMP/wrk-$backend-$size-$c.txt
        log "wrk $backend $size, $c connection(s) (range holds $total entries)"
        wrk --threads "$threads" --connections "$c" --duration "$WARMUP" \
            --header "Authorization: Bearer $TOKEN" "$API$QUERY" >/dev/null
        wrk --threads "$threads" --connections "$c" --duration "$DURATION" --latency \
            --header "Authorization: Bearer $TOKEN" "$API$QUERY" >"$out"
        ROWS+=("$(awk -v b="$backend" -v n="$size" -v t="$total" -v c="$c" '
            /^Requests\/sec:/ { rps = $2 }
            $1 == "50%" { p50 = $2 }
            $1 == "99%" { p99 = $2 }
            /Non-2xx or 3xx responses:/ { bad = $NF }
            END { printf "%-9s %10s %9s %5s %10s %9s %9s %8d\n", b, n, t, c, rps, p50, p99, bad }' "$out")")
    done
    stop "$pid"
}

for backend in $BACKENDS; do
    for size in $SIZES; do
        prepare "$backend" "$size"
        measure "$backend" "$size"
    done
done

echo
echo "GET $QUERY (admin, read cache off); wrk $DURATION per row after a $WARMUP warm-up"
printf "%-9s %10s %9s %5s %10s %9s %9s %8s\n" backend entries in-range conns req/s p50 p99 non-2xx
printf '%s\n' "${ROWS[@]}"
