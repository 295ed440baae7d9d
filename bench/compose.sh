#!/usr/bin/env bash
# Compose, berth side by side with Debian's docker-compose 1.29 against dockerd (issue #16):
# `compose up -d` of a 5-service stack from a local busybox image (a network, a named volume,
# dependencies, a published port), and `compose down`, each timed from the other's end state.
# Usage (root): bash bench/compose.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/peers.sh
command -v hyperfine >/dev/null || { apt-get update -qq; apt-get install -y -qq hyperfine >/dev/null; }
command -v dockerd >/dev/null || { apt-get update -qq; apt-get install -y -qq docker.io >/dev/null; }
command -v docker-compose >/dev/null || { apt-get update -qq; apt-get install -y -qq docker-compose >/dev/null; }
cargo build --release -q
work=$(mktemp -d /var/tmp/berth-bench-compose.XXXXXX)
root=$work/root
berth="$PWD/target/release/berth --root $root"
cleanup() {
  (cd "$work/stack" && $berth compose down -v >/dev/null 2>&1) || true
  (cd "$work/stack" && docker-compose down -v >/dev/null 2>&1) || true
  stop_dockerd
  rm -rf "$work"
}
trap cleanup EXIT

bash tests/fixtures/make-busybox-rootfs.sh "$work/busybox.tar"
$berth import -c 'CMD ["sh"]' "$work/busybox.tar" busybox >/dev/null
mkdir "$work/stack"
# SIGKILL on stop for both tools: the timing is the engine's, not a shell's grace period.
cat > "$work/stack/compose.yaml" <<'YAML'

x-svc: &svc
  image: busybox
  stop_signal: SIGKILL
services:
  web:
    <<: *svc
    command: httpd -f -p 80
    ports: ["127.0.0.1:18990:80"]
    depends_on: [api]
  api:
    <<: *svc
    command: sleep 3600
    depends_on: [db, cache]
  db:
    <<: *svc
    command: sleep 3600
    volumes: [data:/data]
  cache:
    <<: *svc
    command: sleep 3600
  worker:
    <<: *svc
    command: sleep 3600
    depends_on: [db]
volumes:
  data: {}
YAML
cd "$work/stack"
B="$berth compose -p bench"
export COMPOSE_PROJECT_NAME=bench
# One hyperfine run per tool and verb, each prepared by the opposite verb; medians compared.
median() { jq -r '.results[0].median' "$1"; }
measure() { # NAME PREPARE COMMAND
  hyperfine --warmup 1 --runs 10 -n "$1" --prepare "$2" "$3" --export-json "$work/$1.json" 2>&1 |
    grep -v '^ *$'
}
ratio() { echo "scale=1; $(median "$work/$2.json") / $(median "$work/$1.json")" | bc; }
measure berth-up "$B down" "$B up -d"
measure berth-down "$B up -d" "$B down"
$B down -v >/dev/null 2>&1
if start_dockerd 3; then
  docker import -c 'CMD ["sh"]' "$work/busybox.tar" busybox >/dev/null
  measure compose-up "docker-compose down" "docker-compose up -d"
  measure compose-down "docker-compose up -d" "docker-compose down"
  docker-compose down -v >/dev/null 2>&1 || true
  echo "== berth compose vs docker-compose 1.29 + dockerd (median ratios)"
  echo "up -d: berth is $(ratio berth-up compose-up)x faster"
  echo "down:  berth is $(ratio berth-down compose-down)x faster"
fi
