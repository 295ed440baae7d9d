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
cargo build --release -q
berth=$PWD/target/release/berth
work=$(mktemp -d /var/tmp/berth-bench-reg.XXXXXX)
B="$berth --root $work/root"
started_dockerd=
cleanup() {
  # Registries are started in $(…) subshells: find them by their storage under $work.
  pkill -f "docker-registry serve $work/" 2>/dev/null || true
  $B rm -f bench-layer >/dev/null 2>&1 || true
  [ -n "$started_dockerd" ] && kill "$(cat /var/run/docker.pid)" 2>/dev/null || true
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

echo "== building the test image"
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
$B images bench-app
$B save -o "$work/app.tar" bench-app:latest
echo "unpacked: $(du -sm "$work/l1" "$work/l2" "$work/l3" | awk '{s+=$1} END {print s}') MB"

peers=()
if command -v dockerd >/dev/null; then
  if ! docker version >/dev/null 2>&1; then
    setsid nohup dockerd >"$work/dockerd.log" 2>&1 </dev/null &
    started_dockerd=1
    for _ in $(seq 60); do docker version >/dev/null 2>&1 && break; sleep 0.5; done
    sleep 5
  fi
  docker version >/dev/null 2>&1 && docker load -i "$work/app.tar" >/dev/null && peers+=(docker)
fi
command -v podman >/dev/null && podman load -i "$work/app.tar" >/dev/null 2>&1 && peers+=(podman)

t() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null; t1=$(date +%s%N); echo "scale=2; ($t1 - $t0) / 1000000000" | bc; }
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }

echo "== cold push (fresh registry each)"
r=$(registry); $B tag bench-app:latest "$r/app:1"
echo "berth:  $(t $B push "$r/app:1") s"
r2=$(registry); $B tag bench-app:latest "$r2/app:1"
echo "berth peak RSS during a push: $(rss $B push "$r2/app:1") KB"
for p in "${peers[@]}"; do
  r=$(registry); $p tag bench-app:latest "$r/app:1"
  case $p in
    docker) echo "docker: $(t docker push "$r/app:1") s" ;;
    podman) echo "podman: $(t podman push --tls-verify=false "$r/app:1") s" ;;
  esac
done
if command -v skopeo >/dev/null; then
  r=$(registry)
  echo "skopeo: $(t skopeo copy -q --dest-tls-verify=false "docker-archive:$work/app.tar" "docker://$r/app:1") s"
fi

echo "== cold pull into an empty store (includes unpacking)"
src=$(registry); $B tag bench-app:latest "$src/app:1"; $B push "$src/app:1" >/dev/null
echo "berth:  $(t $berth --root "$work/pull1" pull "$src/app:1") s"
echo "berth peak RSS during a pull: $(rss $berth --root "$work/pull2" pull "$src/app:1") KB"
for p in "${peers[@]}"; do
  $p rmi -f bench-app:latest bench-app:2 bench-app:3 "$src/app:1" >/dev/null 2>&1 || true
  $p image prune -af >/dev/null 2>&1 || true
  case $p in
    docker) echo "docker: $(t docker pull "$src/app:1") s" ;;
    podman) echo "podman: $(t podman pull --tls-verify=false "$src/app:1") s" ;;
  esac
done
