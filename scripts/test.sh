#!/usr/bin/env bash
# The whole test suite: formatting, clippy, and every test on SQLite and PostgreSQL, rate limits
# in-process and on Redis. Starts PostgreSQL and Redis when they are installed but not running.
set -euo pipefail
cd "$(dirname "$0")/.."

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
if ! pg_up; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    echo "starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
    for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 1; done
fi

# A fresh test database, so the schema always matches the migrations being tested; the
# per-test databases of earlier runs (timebridge_test_<id>) go too.
psql -h 127.0.0.1 -U postgres -d postgres -At \
    -c "SELECT datname FROM pg_database WHERE datname LIKE 'timebridge\_test\_%'" |
    while read -r db; do
        psql -h 127.0.0.1 -U postgres -d postgres -q -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"
    done
psql -h 127.0.0.1 -U postgres -d postgres -q -v ON_ERROR_STOP=1 \
    -c 'DROP DATABASE IF EXISTS timebridge_test WITH (FORCE)' \
    -c 'CREATE DATABASE timebridge_test'

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast
else
    cargo test --workspace --no-fail-fast
fi
