#!/usr/bin/env bash
# Builds the reference app image (examples/kiwi-app on examples/debian-base) with docker, for
# benchmarks that need a real application image until berth's builder exists, and writes its
# `docker save` to OUT.tar (default /var/tmp/berth-kiwi-app.tar; kept, as building takes
# minutes). Needs dockerd (bench-peers.md), Debian's mirror and PyPI.
# Usage (root): bash bench/kiwi-image.sh [OUT.tar]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/peers.sh
out=${1:-/var/tmp/berth-kiwi-app.tar}
work=$(mktemp -d /var/tmp/berth-kiwi.XXXXXX)
cleanup() {
  stop_dockerd
  rm -rf "$work"
}
trap cleanup EXIT
start_dockerd || { echo "kiwi-image.sh needs docker (see ../shared/bench-peers.md)" >&2; exit 1; }
cp -r examples/debian-base "$work/base"
bash examples/debian-base/make-rootfs.sh "$work/base/rootfs.tar"
docker build -q -t debian-base:bookworm "$work/base"
cp -r examples/kiwi-app "$work/app"
cp /usr/local/share/ca-certificates/*.crt "$work/app/ca-certificates/" 2>/dev/null || true
docker build -t kiwi-app:latest "$work/app"
docker save -o "$out.tmp" kiwi-app:latest
mv "$out.tmp" "$out"
docker image ls kiwi-app
echo "saved to $out"
