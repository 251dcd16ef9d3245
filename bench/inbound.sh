#!/usr/bin/env bash
# Inbound GitHub webhooks per second: signed `issues.opened` deliveries, each verified
# (X-Hub-Signature-256), checked against the de-duplication ledger and applied (a task created,
# its event written, the ledger row recorded, all in one transaction). One request in ten
# repeats an earlier delivery, so the duplicate path is measured too.
#
#   bash bench/inbound.sh
#
# Knobs: BACKENDS ("sqlite postgres"), REQUESTS (30000), CONCURRENCY (32), WARMUP (3000).
# Traffic stays on 127.0.0.1; every background process is stopped when the script exits.
set -euo pipefail
cd "$(dirname "$0")/.."

BACKENDS=${BACKENDS:-"sqlite postgres"}
REQUESTS=${REQUESTS:-30000}
CONCURRENCY=${CONCURRENCY:-32}
WARMUP=${WARMUP:-3000}
API=http://127.0.0.1:18183
PG_ADMIN_URL=postgres://postgres@127.0.0.1:5432/postgres
PG_URL=postgres://postgres@127.0.0.1:5432/timebridge_bench_inbound
BIN=${CARGO_TARGET_DIR:-target}/release
SECRET="bench webhook secret"
REPO=octo-org/hello-world

# shellcheck source=bench/lib.sh
source bench/lib.sh

log "building release binaries"
cargo build --release -p timebridge -p inbound

export RUST_LOG=info LOG_FORMAT=json
ROWS=()

run() {
    local backend=$1 pid token project out total
    if [ "$backend" = postgres ]; then
        PGOPTIONS='-c client_min_messages=warning' psql "$PG_ADMIN_URL" -q -v ON_ERROR_STOP=1 \
            -c 'DROP DATABASE IF EXISTS timebridge_bench_inbound WITH (FORCE)' \
            -c 'CREATE DATABASE timebridge_bench_inbound'
        export DATABASE_URL=$PG_URL
        TIMEBRIDGE_SECRET_KEY=$(head -c 32 /dev/zero | base64)
        export TIMEBRIDGE_SECRET_KEY
    else
        export DATABASE_URL="sqlite://$TMP/inbound.db?mode=rwc"
        unset TIMEBRIDGE_SECRET_KEY
    fi
    "$BIN/timebridge" user create --email bench@example.com --name Bench --admin \
        --workspace Bench --plan enterprise >/dev/null 2>>"$TMP/cli.log"
    token=$("$BIN/timebridge" token create --email bench@example.com --name bench \
        --scopes admin:all 2>>"$TMP/cli.log" | tail -n 1)
    [ -n "$token" ] || die "token create printed no secret"
    "$BIN/timebridge" serve --addr "${API#http://}" >>"$TMP/$backend.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_for "$API/health" "$pid"
    project=$(curl -sf -X POST "$API/api/v1/projects" -H "Authorization: Bearer $token" \
        -H 'Content-Type: application/json' -d '{"name": "Website"}' |
        grep -o '"id":"[^"]*"' | head -n1 | cut -d'"' -f4)
    [ -n "$project" ] || die "could not create the project"
    curl -sf -X PUT "$API/api/integrations/github/config" -H "Authorization: Bearer $token" \
        -H 'Content-Type: application/json' \
        -d "{\"repo\": \"$REPO\", \"webhook_secret\": \"$SECRET\", \"project_id\": \"$project\"}" \
        >/dev/null || die "could not configure the GitHub integration"
    log "$backend: warm-up, $WARMUP deliveries"
    "$BIN/inbound-load" "$API" "$SECRET" "$REPO" "$WARMUP" "$CONCURRENCY" 1 >/dev/null
    log "$backend: $REQUESTS deliveries, $CONCURRENCY connections"
    out=$("$BIN/inbound-load" "$API" "$SECRET" "$REPO" "$REQUESTS" "$CONCURRENCY" 1000000)
    total=$(curl -sf "$API/api/v1/tasks?per_page=1" -H "Authorization: Bearer $token" |
        grep -o '"total":[0-9]*' | head -n1 | cut -d: -f2)
    ROWS+=("$(printf '%-9s %s tasks=%s' "$backend" "$out" "$total")")
    stop "$pid"
}

for backend in $BACKENDS; do
    run "$backend"
done

echo
echo "POST /api/integrations/github/webhook: verify + dedup + apply (1 in 10 a repeat)"
printf '%s\n' "${ROWS[@]}"
