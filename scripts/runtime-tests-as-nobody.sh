#!/usr/bin/env bash
# The runtime's lifecycle unit tests (create, run, start/restart, stop, kill, pause, rename,
# rm, name claims, record locking) run over the fake OCI runtime in
# crates/runtime/src/engine_fake.rs: run them as `nobody` so that they stay free of root.
set -euo pipefail
cd "$(dirname "$0")/.."
exe=$(cargo test -p berth-runtime --lib --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "berth_runtime":
        print(m["executable"])')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
install -m 0755 "$exe" "$work/runtime-tests"
chown nobody "$work"
cd "$work"
TMPDIR="$work" HOME="$work" setpriv --reuid nobody --regid nogroup --clear-groups \
    ./runtime-tests --test-threads 2 container_ record::
