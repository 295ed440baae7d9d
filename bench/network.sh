#!/usr/bin/env bash
# Networking benchmark, berth side by side with docker and podman where installed:
#  1. start-up cost of the bridge network: `run --rm busybox true` vs `--network none`;
#  2. throughput and latency through a published port on 127.0.0.1 (wrk, 2 threads,
#     10 connections (wrk's default), against busybox httpd; 3 interleaved rounds of 4 s),
#     plus the container's own address and httpd on the host as the ceilings;
#  3. time from `run -d -p` to the first HTTP 200 (10 runs, median).
# Only 127.0.0.1 and container addresses are contacted; every loop is bounded.
# Usage (root): bash bench/network.sh   (SECTIONS="2 3" runs only those parts)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/peers.sh
for t in hyperfine wrk curl; do
  command -v $t >/dev/null || { apt-get update -qq; apt-get install -y -qq hyperfine wrk curl >/dev/null; }
done
cargo build --release -q
work=$(mktemp -d /var/tmp/berth-bench-net.XXXXXX)
B="$PWD/target/release/berth --root $work/root"
cleanup() {
  $B rm -f $($B ps -aq) >/dev/null 2>&1 || true
  for p in docker podman; do
    command -v $p >/dev/null && $p rm -f bench-web >/dev/null 2>&1 || true
  done
  pkill -f "busybox httpd -f -p 127.0.0.1:18099" 2>/dev/null || true
  stop_dockerd
  rm -rf "$work"
}
trap cleanup EXIT

bash tests/fixtures/make-busybox-rootfs.sh "$work/busybox.tar"
$B import -c 'CMD ["sh"]' "$work/busybox.tar" busybox >/dev/null
peers=()
if start_dockerd 10; then
  docker import -c 'CMD ["sh"]' "$work/busybox.tar" busybox >/dev/null && peers+=(docker)
fi
if podman_ready; then
  podman import -c 'CMD ["sh"]' "$work/busybox.tar" busybox >/dev/null 2>&1 && peers+=(podman)
fi

port=18080

# The same check without starting a process per attempt (bash's /dev/tcp), so the client's
# own start-up does not dominate what step 3 measures.
fast200() {
  local status
  for _ in $(seq 1000); do
    status=
    if exec 3<>"/dev/tcp/127.0.0.1/$1" 2>/dev/null; then
      printf 'GET /hostname HTTP/1.0\r\n\r\n' >&3
      read -r -t 1 status <&3 || true
      exec 3<&- 3>&-
    fi
    [[ $status == *" 200 "* ]] && return 0
    sleep 0.002
  done
  return 1
}

# Waits (at most 5 s) until the URL answers 200.
wait200() {
  for _ in $(seq 500); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1" || true)" = 200 ] && return 0
    sleep 0.01
  done
  return 1
}

sections=" ${SECTIONS:-1 2 3} "
if [[ $sections == *" 1 "* ]]; then
echo "== 1. start-up: bridge vs none"
args=(--warmup 5 --runs 40 -N -n "berth bridge" "$B run --rm busybox true" -n "berth none" "$B run --rm --network none busybox true")
for p in "${peers[@]}"; do
  args+=(-n "$p bridge" "$p run --rm busybox true" -n "$p none" "$p run --rm --network none busybox true")
done
hyperfine "${args[@]}" --export-markdown "$work/startup.md"


fi

if [[ $sections == *" 2 "* ]]; then
echo "== 2. published port on 127.0.0.1 under wrk (2 threads, 10 connections; 3 interleaved rounds of 4 s, median)"
# Every target serves at once and the rounds alternate between them, so the machine's
# background noise hits all of them alike.
busybox httpd -f -p 127.0.0.1:18099 -h /etc &
host_httpd=$!
targets=("httpd on the host|http://127.0.0.1:18099/hostname")
# The container's own address once only, on a container of its own: connections to it (not
# loopback) cannot reuse TIME_WAIT ports, so repeated rounds would run out of ephemeral
# ports, and its TIME_WAIT entries would slow the published port's container.
direct=$($B run -d busybox httpd -f -p 80 -h /etc)
ip=$($B inspect -f '{{.NetworkSettings.IPAddress}}' "$direct")
wait200 "http://$ip/hostname"
out=$(wrk -t2 -c10 -d4s --latency "http://$ip/hostname" 2>&1)
printf '%-28s once   %10s req/s   (p99 %s)\n' "berth container address" \
  "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" "$(awk '$1=="99%" {print $2}' <<<"$out")"
$B rm -f "$direct" >/dev/null
id=$($B run -d -p 127.0.0.1:18080:80 busybox httpd -f -p 80 -h /etc)
targets+=("berth -p (DNAT)|http://127.0.0.1:18080/hostname")
n=1
for p in "${peers[@]}"; do
  $p run -d --name bench-web -p 127.0.0.1:1808$n:80 busybox httpd -f -p 80 -h /etc >/dev/null
  targets+=("$p -p|http://127.0.0.1:1808$n/hostname")
  n=$((n + 1))
done
for t in "${targets[@]}"; do wait200 "${t#*|}"; done
declare -A results
for round in 1 2 3; do
  for t in "${targets[@]}"; do
    out=$(wrk -t2 -c10 -d4s --latency "${t#*|}" 2>&1)
    results["${t%%|*}"]+="$(awk '/Requests\/sec/ {print $2}' <<<"$out") $(awk '$1=="99%" {print $2}' <<<"$out");"
  done
  [ -n "${BENCH_VERBOSE:-}" ] && echo "round $round: berth -p $(tr ';' '\n' <<<"${results["berth -p (DNAT)"]}" | tail -2 | head -1), PAWS $(nsenter -t "$($B inspect -f '{{.State.Pid}}' "$id")" -n nstat -az 2>/dev/null | awk '$1=="TcpExtPAWSTimewait" {print $2}')"
done
for t in "${targets[@]}"; do
  name=${t%%|*}
  med=$(tr ';' '\n' <<<"${results[$name]}" | grep . | sort -n | sed -n 2p)
  printf '%-28s median %10s req/s   (p99 of that round %s)   rounds: %s\n' "$name" "${med% *}" "${med#* }" "${results[$name]}"
done
# SYNs refused by TIME_WAIT sockets in the published container (PAWS): non-zero means clients
# were slowed by retransmitted SYNs (what --random-fully masquerading once caused).
cpid=$($B inspect -f '{{.State.Pid}}' "$id")
echo "berth -p container: $(nsenter -t "$cpid" -n nstat -az 2>/dev/null | awk '$1=="TcpExtPAWSTimewait" {print $1, $2}')"
kill $host_httpd 2>/dev/null || true
$B rm -f "$id" >/dev/null
for p in "${peers[@]}"; do $p rm -f bench-web >/dev/null; done
fi

if [[ $sections == *" 3 "* ]]; then
echo "== 3. run -d -p to first HTTP 200 (median of 10)"
first200() { # $1 = engine command
  local times=() t0 t1 id
  for _ in $(seq 10); do
    t0=$(date +%s%N)
    id=$($1 run -d -p 127.0.0.1:$port:80 busybox httpd -f -p 80 -h /etc)
    fast200 $port
    t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000000 )))
    $1 rm -f "$id" >/dev/null
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n 5p
}
echo "berth: $(first200 "$B") ms"
for p in "${peers[@]}"; do echo "$p: $(first200 "$p") ms"; done
[ -f "$work/startup.md" ] && cat "$work/startup.md"
fi
