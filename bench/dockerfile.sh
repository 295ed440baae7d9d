#!/usr/bin/env bash
# Dockerfile parse time: a 10,000-instruction file (target < 10 ms) and one instruction over
# 100,000 continuation lines (~1 MB; shows parsing stays linear).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release -q -p berth-dockerfile --example parse_time
