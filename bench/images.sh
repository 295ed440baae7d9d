#!/usr/bin/env bash
# Image store benchmark, berth side by side with docker (and podman) where installed:
# import of a ~100 MB rootfs tar, save and load of that image, and layer compression speed.
# Usage (root): bash bench/images.sh   — results are printed; copy them into bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/peers.sh
command -v hyperfine >/dev/null || { apt-get update -qq; apt-get install -y -qq hyperfine >/dev/null; }
cargo build --release -q
berth=$PWD/target/release/berth
work=$(mktemp -d /var/tmp/berth-bench.XXXXXX)
root=$work/root
cleanup() {
  stop_dockerd
  rm -rf "$work"
}
trap cleanup EXIT

# ~100 MB rootfs: the busybox fixture plus real shared libraries.
bash tests/fixtures/make-busybox-rootfs.sh "$work/busybox.tar"
mkdir "$work/rootfs"
tar -xf "$work/busybox.tar" -C "$work/rootfs"
mkdir -p "$work/rootfs/usr/lib"
total=0
while read -r f; do
  s=$(stat -c %s "$f")
  [ $((total + s)) -gt 100000000 ] && continue
  cp -a "$f" "$work/rootfs/usr/lib/"
  total=$((total + s))
done < <(find /usr/lib/x86_64-linux-gnu -maxdepth 1 -type f | sort)
du -sm "$work/rootfs"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
ls -la "$work/rootfs.tar"

peers=()
start_dockerd && peers+=(docker)

echo "== import"
args=(--warmup 1 --runs 5 --export-markdown "$work/import.md"
  --prepare "$berth --root $root rmi -f bench:1 >/dev/null 2>&1 || true"
  -n berth "$berth --root $root import $work/rootfs.tar bench:1")
for p in "${peers[@]}"; do
  args+=(--prepare "$p rmi -f bench:1 >/dev/null 2>&1 || true" -n "$p" "$p import $work/rootfs.tar bench:1")
done
hyperfine "${args[@]}"

echo "== save"
args=(--warmup 1 --runs 5 --export-markdown "$work/save.md"
  -n berth "$berth --root $root save -o $work/berth-save.tar bench:1")
for p in "${peers[@]}"; do args+=(-n "$p" "$p save -o $work/$p-save.tar bench:1"); done
hyperfine "${args[@]}"

echo "== load"
args=(--warmup 1 --runs 5 --export-markdown "$work/load.md"
  --prepare "$berth --root $root rmi -f bench:1 >/dev/null 2>&1 || true"
  -n berth "$berth --root $root load -q -i $work/berth-save.tar")
for p in "${peers[@]}"; do
  args+=(--prepare "$p rmi -f bench:1 >/dev/null 2>&1 || true" -n "$p" "$p load -q -i $work/$p-save.tar")
done
hyperfine "${args[@]}"

echo "== layer compression (once per layer, at push)"
cargo run --release -q -p berth-image --example compress_layer -- "$work/rootfs.tar"
for p in "${peers[@]}"; do $p rmi -f bench:1 >/dev/null 2>&1 || true; done
cat "$work"/import.md "$work"/save.md "$work"/load.md
