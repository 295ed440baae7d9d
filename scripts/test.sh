#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, then every unit and end-to-end test.
# Run as root: layer tests create device nodes and set file owners.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
# Debian's PostgreSQL for the compose stack test, fetched now so that tests stay on loopback.
bash tests/fixtures/make-debian-fixtures.sh /var/cache/berth-tests
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# Bounded: a test that hangs fails the run in time to say which, well before CI's limit.
timeout --kill-after=30s 40m cargo test --workspace
# The lifecycle's unit tests again, as an unprivileged user: they must never need root.
timeout 5m bash scripts/runtime-tests-as-nobody.sh
# The default bridge outlives containers (like docker0) until networks are pruned: the suite
# leaves nothing of berth's on the machine.
./target/debug/berth network prune -f >/dev/null
