#!/usr/bin/env bash
# Container start-up benchmark, berth side by side with docker, podman and bare runc where
# installed: `run --rm busybox true`, exec latency, 100 detached containers started and
# removed, and the supervisor's memory. Usage (root): bash bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/peers.sh
command -v hyperfine >/dev/null || { apt-get update -qq; apt-get install -y -qq hyperfine >/dev/null; }
cargo build --release -q
berth="$PWD/target/release/berth --root"
work=$(mktemp -d /var/tmp/berth-bench-run.XXXXXX)
root=$work/root
B="$berth $root"
cleanup() {
  $B rm -f bench-exec >/dev/null 2>&1 || true
  command -v docker >/dev/null && docker rm -f bench-exec >/dev/null 2>&1 || true
  stop_dockerd
  rm -rf "$work"
}
trap cleanup EXIT

bash tests/fixtures/make-busybox-rootfs.sh "$work/busybox.tar"
$B import -c 'CMD ["sh"]' "$work/busybox.tar" busybox >/dev/null

peers=()
if start_dockerd; then
  docker import -c 'CMD ["sh"]' "$work/busybox.tar" busybox >/dev/null && peers+=(docker)
fi
if podman_ready; then
  podman import -c 'CMD ["sh"]' "$work/busybox.tar" busybox >/dev/null 2>&1 && peers+=(podman)
fi

echo "== run --rm busybox true"
args=(--warmup 3 --runs 20 -N -n berth "$B run --rm busybox true" -n "berth --network none" "$B run --rm --network none busybox true")
for p in "${peers[@]}"; do
  args+=(-n "$p" "$p run --rm busybox true" -n "$p --network none" "$p run --rm --network none busybox true")
done
if command -v runc >/dev/null; then
  mkdir -p "$work/bundle/rootfs"
  tar -xf "$work/busybox.tar" -C "$work/bundle/rootfs"
  (cd "$work/bundle" && runc spec && sed -i 's/"terminal": true/"terminal": false/; s/"sh"/"true"/' config.json)
  args+=(-n "runc (prepared bundle)" "runc run -b $work/bundle bench-runc")
fi
hyperfine "${args[@]}" --export-markdown "$work/run.md"

echo "== exec latency"
$B run -d --name bench-exec busybox sleep 1000 >/dev/null
args=(--warmup 3 --runs 20 -N -n "berth exec" "$B exec bench-exec true")
for p in docker; do
  [[ " ${peers[*]} " == *" $p "* ]] && { $p run -d --name bench-exec busybox sleep 1000 >/dev/null; args+=(-n "$p exec" "$p exec bench-exec true"); }
done
hyperfine "${args[@]}" --export-markdown "$work/exec.md"
sup=$(pgrep -f "__supervise" | head -1)
echo "supervisor RSS: $(grep VmRSS /proc/$sup/status)"

echo "== 100 detached containers started and removed"
many() { # $1 = command prefix
  local t0 t1
  t0=$(date +%s.%N)
  for _ in $(seq 100); do $1 run -d busybox sleep 1000 >/dev/null; done
  $1 rm -f $($1 ps -aq) >/dev/null
  t1=$(date +%s.%N)
  echo "$2: $(echo "$t1 - $t0" | bc) s"
}
$B rm -f bench-exec >/dev/null
many "$B" berth
[[ " ${peers[*]} " == *" docker "* ]] && { docker rm -f bench-exec >/dev/null; many docker docker; }
cat "$work"/run.md "$work"/exec.md
