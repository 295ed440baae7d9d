#!/usr/bin/env bash
# The main job for a new user: install what berth needs, build it, make the busybox image
# from Debian's busybox-static, and run a container from it.
# (Once the builder lands this builds and runs the example app instead.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo build --release
berth=target/release/berth
tar=target/busybox-rootfs.tar
bash tests/fixtures/make-busybox-rootfs.sh "$tar"
"$berth" import -c 'CMD ["sh"]' "$tar" busybox:latest
"$berth" images
"$berth" run --rm busybox sh -c 'echo "hello from a berth container: $(hostname), pid $$, $(uname -sr)"'
