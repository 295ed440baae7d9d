#!/usr/bin/env bash
# The Engine API server, berth side by side with dockerd (issue #14): the docker CLI's
# `run --rm busybox true` through `berth serve` and through dockerd, beside the same command
# against an engine that runs nothing (bench/instant_engine.py, the client's own floor) and
# bare runc on a prepared bundle (the OCI runtime alone, for scale); 50 concurrent clients
# (`docker ps` and `docker run --rm busybox true`, mixed) against each, with errors and
# p50/p99 latency; idle RSS of `berth serve` and of dockerd + containerd.
# Usage (root): bash bench/api.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/peers.sh
command -v hyperfine >/dev/null || { apt-get update -qq; apt-get install -y -qq hyperfine >/dev/null; }
command -v dockerd >/dev/null || { apt-get update -qq; apt-get install -y -qq docker.io >/dev/null; }
cargo build --release -q
work=$(mktemp -d /var/tmp/berth-bench-api.XXXXXX)
root=$work/root
sock=$work/berth.sock
berth="$PWD/target/release/berth --root $root"
client=/usr/local/bin/docker
[ -x "$client" ] || client=docker
serve_pid=
instant_pid=
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null || true
  [ -n "$instant_pid" ] && kill "$instant_pid" 2>/dev/null || true
  $berth rm -f $($berth ps -aq) >/dev/null 2>&1 || true
  stop_dockerd
  rm -rf "$work"
}
trap cleanup EXIT

bash tests/fixtures/make-busybox-rootfs.sh "$work/busybox.tar"
$berth import -c 'CMD ["sh"]' "$work/busybox.tar" busybox >/dev/null
$berth serve -H "unix://$sock" 2>"$work/serve.log" &
serve_pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
sleep 1
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
echo "== idle RSS"
echo "berth serve: $(rss $serve_pid) kB"
B="$client -H unix://$sock"
peers=(-n "docker CLI -> berth serve" "$B run --rm busybox true")
# The floor under any engine: the same command against a server that runs nothing and
# answers at once (bench/instant_engine.py). dockerd's time over it is the most any engine
# could be faster by, measured in this same run.
python3 bench/instant_engine.py "$work/instant.sock" 2>"$work/instant.log" &
instant_pid=$!
for _ in $(seq 100); do [ -S "$work/instant.sock" ] && break; sleep 0.05; done
peers+=(-n "docker CLI -> instant engine (runs nothing)" "$client -H unix://$work/instant.sock run --rm busybox true")
# The OCI runtime alone, for scale: runc on a prepared bundle (no engine, no image store, no
# network) runs the same `true`.
if command -v runc >/dev/null; then
  mkdir -p "$work/bundle/rootfs"
  tar -xf "$work/busybox.tar" -C "$work/bundle/rootfs"
  (cd "$work/bundle" && runc spec && sed -i 's/"terminal": true/"terminal": false/; s/"sh"/"true"/' config.json)
  peers+=(-n "runc run on a prepared bundle (no engine)" "runc run -b $work/bundle bench-api-runc")
fi
have_dockerd=
if start_dockerd 3; then
  have_dockerd=1
  $client import -c 'CMD ["sh"]' "$work/busybox.tar" busybox >/dev/null
  d=$(pgrep -x dockerd | head -1); c=$(pgrep -x containerd | head -1)
  echo "dockerd: $(rss "$d") kB, containerd: $(rss "$c") kB"
  peers+=(-n "docker CLI -> dockerd" "$client -H unix:///var/run/docker.sock run --rm busybox true")
fi

echo "== docker run --rm busybox true"
hyperfine --warmup 3 --runs 20 -N "${peers[@]}" --export-markdown "$work/run.md"
# From its first start on, the server keeps a supervisor waiting for the next one: its own
# memory (what it does not share with the server: Private_* of smaps_rollup) counts too.
standby=$(pgrep -f -- "--root $root __supervise --standby" | head -1)
if [ -n "$standby" ]; then
  private=$(awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s}' "/proc/$standby/smaps_rollup")
  echo "after the runs: berth serve $(rss $serve_pid) kB, waiting supervisor $private kB of its own"
fi

# A store as it is after a while: 50 stopped containers beside the one that runs.
echo "== docker run --rm busybox true, 50 stopped containers in the store"
for _ in $(seq 50); do $B create busybox true >/dev/null; done
[ -n "$have_dockerd" ] && for _ in $(seq 50); do
  $client -H unix:///var/run/docker.sock create busybox true >/dev/null
done
hyperfine --warmup 3 --runs 20 -N "${peers[@]}" --export-markdown "$work/run50.md"
$B container prune -f >/dev/null
[ -n "$have_dockerd" ] && $client -H unix:///var/run/docker.sock container prune -f >/dev/null

# 50 clients at once, each doing `ps` then `run --rm … true`, twice: every command's
# latency in ms (or "error"), then p50, p99 and the error count.
concurrent() { # $1 = docker -H …, $2 = label
  local out=$work/lat-$2
  rm -f "$out"; touch "$out"
  local pids=()
  for i in $(seq 50); do
    (
      for round in 1 2; do
        for cmd in "ps" "run --rm busybox true"; do
          t0=$(date +%s%N)
          if $1 $cmd >/dev/null 2>>"$work/errors-$2"; then
            echo $(( ($(date +%s%N) - t0) / 1000000 )) >>"$out"
          else
            echo error >>"$out"
          fi
        done
      done
    ) &
    pids+=($!)
  done
  wait "${pids[@]}"
  local errors; errors=$(grep -c error "$out" || true)
  grep -v error "$out" | sort -n >"$out.sorted"
  local n; n=$(wc -l <"$out.sorted")
  local p50 p99
  p50=$(sed -n "$(( (n * 50 + 99) / 100 ))p" "$out.sorted")
  p99=$(sed -n "$(( (n * 99 + 99) / 100 ))p" "$out.sorted")
  echo "$2: $n commands ok, $errors errors, p50 ${p50} ms, p99 ${p99} ms"
}
echo "== 50 concurrent clients (ps + run --rm, twice each)"
concurrent "$B" berth
[ -n "$have_dockerd" ] && concurrent "$client -H unix:///var/run/docker.sock" dockerd
echo "berth serve RSS after the load: $(rss $serve_pid) kB"
cat "$work/run.md" "$work/run50.md"
