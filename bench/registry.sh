#!/usr/bin/env bash
# Registry benchmark: cold push to and cold pull from a fresh local registry (Debian's
# docker-registry on 127.0.0.1), berth side by side with docker, podman and skopeo where
# installed, of the same ~600 MB (unpacked), 3-layer image made of real files (shared
# libraries, Python, documentation: compresses about 2:1 like an application image).
# Each tool gets its own fresh registry; "cold pull" starts from an empty store and
# includes unpacking. Peak memory of berth is reported too.
# Usage (root): bash bench/registry.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/peers.sh
cargo build --release -q
berth=$PWD/target/release/berth
work=$(mktemp -d /var/tmp/berth-bench-reg.XXXXXX)
B="$berth --root $work/root"
cleanup() {
  # Registries are started in $(…) subshells: find them by their storage under $work.
  pkill -f "docker-registry serve $work/" 2>/dev/null || true
  $B rm -f bench-layer >/dev/null 2>&1 || true
  stop_dockerd
  rm -rf "$work"
}
trap cleanup EXIT

# A registry with fresh storage on a free port; prints host:port.
registry() {
  local port dir
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  dir=$work/reg-$port
  mkdir -p "$dir"
  printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' "$dir/data" "$port" >"$dir/config.yml"
  setsid docker-registry serve "$dir/config.yml" >/dev/null 2>&1 &
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.05; done
  echo "127.0.0.1:$port"
}

# Copies real files from $1 into $2 until about $3 MB.
fill() {
  local total=0 limit=$(($3 * 1000000)) s
  mkdir -p "$2"
  while read -r f; do
    s=$(stat -c %s "$f")
    [ $((total + s)) -gt $limit ] && continue
    mkdir -p "$2/$(dirname "$f")"
    cp -a "$f" "$2/$f"
    total=$((total + s))
  done < <(find "$1" -type f -size +1k 2>/dev/null | sort)
}

# The image: BENCH_IMAGE_TAR=FILE uses a `docker save` (e.g. the kiwi app from
# bench/kiwi-image.sh); otherwise a synthetic one is built once and kept in $synthetic.
synthetic=/var/tmp/berth-bench-registry-image.tar
app_tar=${BENCH_IMAGE_TAR:-}
if [ -z "$app_tar" ] && [ ! -f "$synthetic" ]; then
  echo "== building the synthetic test image (kept in $synthetic)"
  bash tests/fixtures/make-busybox-rootfs.sh "$work/busybox.tar"
  mkdir "$work/l1"; tar -xf "$work/busybox.tar" -C "$work/l1"
  fill /usr/lib/x86_64-linux-gnu "$work/l1" 250
  tar -C "$work/l1" -cf "$work/l1.tar" .
  $B import -c 'CMD ["sh"]' "$work/l1.tar" bench-base >/dev/null
  for n in 2 3; do
    case $n in 2) src=/usr/lib/python3 ;; 3) src=/usr/share ;; esac
    [ -d "$src" ] || src=/usr/share
    fill "$src" "$work/l$n" $([ $n = 2 ] && echo 200 || echo 150)
    $B create --name bench-layer --network none "$([ $n = 2 ] && echo bench-base || echo bench-app:2)" true >/dev/null
    $B cp "$work/l$n/." bench-layer:/
    $B commit bench-layer "bench-app:$n" >/dev/null
    $B rm bench-layer >/dev/null
  done
  $B tag bench-app:3 bench-app:latest
  $B save -o "$synthetic.tmp" bench-app:latest
  mv "$synthetic.tmp" "$synthetic"
fi
app_tar=${app_tar:-$synthetic}
name=$(tar -xOf "$app_tar" manifest.json | jq -r '.[0].RepoTags[0]')
$B load -i "$app_tar" >/dev/null
echo "== image $name from $app_tar, $($B image inspect -f '{{.Size}}' "$name" | awk '{printf "%d MB unpacked", $1/1e6}')"

peers=()
start_dockerd 5 && docker load -i "$app_tar" >/dev/null && peers+=(docker)
podman_ready && podman load -i "$app_tar" >/dev/null 2>&1 && peers+=(podman)

# Each timing starts with nothing left to write back (building the image and earlier pushes
# leave gigabytes of dirty pages, whose writeback would otherwise land on whoever runs next).
t() {
  local t0 t1; sync; t0=$(date +%s%N)
  "$@" >/dev/null 2>"$work/last-error" || { echo "failed($(tail -1 "$work/last-error"))" >&2; echo failed; return; }
  t1=$(date +%s%N); echo "scale=2; ($t1 - $t0) / 1000000000" | bc
}
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }

# This machine's disk (ext4 mounted with `discard` on a virtual disk) writes slowly for a
# while after much data was deleted, whoever writes next: so every figure is the median of
# three interleaved rounds, nothing is deleted between timings, and the peers' image removals
# happen before the round's pulls, not between them.
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A push pull

echo "== cold push (fresh registry each; for berth a fresh store each: nothing compressed yet)"
for i in 1 2 3; do
  root=$work/push$i
  $berth --root "$root" load -i "$app_tar" >/dev/null
  r=$(registry); $berth --root "$root" tag "$name" "$r/app:1"
  push[berth]+="$(t $berth --root "$root" push "$r/app:1") "
  for p in "${peers[@]}"; do
    r=$(registry); $p tag "$name" "$r/app:1"
    case $p in
      docker) push[docker]+="$(t docker push "$r/app:1") " ;;
      podman) push[podman]+="$(t podman push --tls-verify=false "$r/app:1") " ;;
    esac
  done
  if command -v skopeo >/dev/null; then
    r=$(registry)
    push[skopeo]+="$(t skopeo copy -q --dest-tls-verify=false "docker-archive:$app_tar" "docker://$r/app:1") "
  fi
done
for k in "${!push[@]}"; do echo "$k: $(echo "${push[$k]}" | median) s (rounds: ${push[$k]})"; done
r=$(registry); $B tag "$name" "$r/app:rss"
$berth --root "$work/push1" tag "$name" "$r/app:rss"
echo "berth peak RSS during a push: $(rss $berth --root "$work/push1" push "$r/app:rss") KB"

echo "== cold pull into an empty store (includes unpacking)"
src=$(registry); $B tag "$name" "$src/app:1"; $B push "$src/app:1" >/dev/null
for i in 1 2 3; do
  for p in "${peers[@]}"; do
    $p rmi -f "$name" "$src/app:1" >/dev/null 2>&1 || true
    $p image prune -af >/dev/null 2>&1 || true
  done
  pull[berth]+="$(t $berth --root "$work/pull$i" pull "$src/app:1") "
  for p in "${peers[@]}"; do
    case $p in
      docker) pull[docker]+="$(t docker pull "$src/app:1") " ;;
      podman) pull[podman]+="$(t podman pull --tls-verify=false "$src/app:1") " ;;
    esac
  done
done
for k in "${!pull[@]}"; do echo "$k: $(echo "${pull[$k]}" | median) s (rounds: ${pull[$k]})"; done
echo "berth peak RSS during a pull: $(rss $berth --root "$work/pull-rss" pull "$src/app:1") KB"
