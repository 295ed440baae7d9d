#!/usr/bin/env bash
# The main job for a new user: install what berth needs, build berth, build the project's
# Debian base image (a debootstrap'd rootfs, as the official image is made) and the example
# app (Python + kiwipiepy from PyPI) with `berth build`, run the app with a published port and
# ask it something. Needs root, Debian's mirror and PyPI; about two minutes the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo build --release
berth=target/release/berth
work=$(mktemp -d /var/tmp/berth-quickstart.XXXXXX)
trap 'rm -rf "$work"' EXIT
if ! "$berth" image inspect debian-base:bookworm >/dev/null 2>&1; then
  cp -r examples/debian-base "$work/base"
  bash examples/debian-base/make-rootfs.sh "$work/base/rootfs.tar"
  "$berth" build -t debian-base:bookworm "$work/base"
fi
# This machine's extra CA certificates (a TLS-intercepting proxy on the way to PyPI) go into
# the app image; there are usually none.
cp -r examples/kiwi-app "$work/app"
cp /usr/local/share/ca-certificates/*.crt "$work/app/ca-certificates/" 2>/dev/null || true
"$berth" build -t kiwi-app "$work/app"
"$berth" rm -f kiwi-app >/dev/null 2>&1 || true
"$berth" run -d --name kiwi-app -p 4000:80 kiwi-app
for _ in $(seq 1 100); do
  curl -fsS -m 2 http://127.0.0.1:4000/health >/dev/null 2>&1 && break
  sleep 0.2
done
echo "GET http://127.0.0.1:4000/?text=안녕하세요"
curl -fsS -m 10 "http://127.0.0.1:4000/?text=%EC%95%88%EB%85%95%ED%95%98%EC%84%B8%EC%9A%94"
echo "kiwi-app is running on port 4000; stop it with: $berth rm -f kiwi-app"
