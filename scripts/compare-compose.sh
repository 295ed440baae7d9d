#!/usr/bin/env bash
# Dev script (not CI), issue #16: one compose file run by `berth compose` and by Debian's
# docker-compose 1.29 against a real dockerd, and what users read compared: the services and
# states of `ps`, the lines of `logs --no-color` (prefix stripped), and `port`. Differences are
# printed as a diff; the exit code is 0 only when all three agree.
# Usage (root): bash scripts/compare-compose.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/peers.sh
command -v dockerd >/dev/null || { apt-get update -qq; apt-get install -y -qq docker.io >/dev/null; }
command -v docker-compose >/dev/null || { apt-get update -qq; apt-get install -y -qq docker-compose >/dev/null; }
cargo build -q
work=$(mktemp -d /var/tmp/berth-compare-compose.XXXXXX)
berth="$PWD/target/debug/berth --root $work/root"
export COMPOSE_PROJECT_NAME=cmp
cleanup() {
  (cd "$work/stack" && $berth compose down -v >/dev/null 2>&1) || true
  (cd "$work/stack" && docker-compose down -v >/dev/null 2>&1) || true
  stop_dockerd
  rm -rf "$work"
}
trap cleanup EXIT
bash tests/fixtures/make-busybox-rootfs.sh "$work/busybox.tar"
$berth import -c 'CMD ["sh"]' "$work/busybox.tar" busybox >/dev/null
start_dockerd 1
docker import -c 'CMD ["sh"]' "$work/busybox.tar" busybox >/dev/null
mkdir "$work/stack"
cat > "$work/stack/compose.yaml" <<'YAML'
services:
  web:
    image: busybox
    command: sh -c 'echo web up; exec httpd -f -p 80'
    ports: ["127.0.0.1:18995:80", "8080"]
    depends_on: [db]
    stop_signal: SIGKILL
  db:
    image: busybox
    command: sh -c 'echo db ready; echo "to stderr" >&2; exec sleep 3600'
    volumes: [data:/data]
    stop_signal: SIGKILL
  once:
    image: busybox
    command: sh -c 'echo done once; exit 3'
volumes:
  data: {}
YAML
cd "$work/stack"
# What each tool shows, in a form both share: ps as "name state exit-code" (1.29 names
# containers cmp_web_1, Compose v2 and berth cmp-web-1), logs sorted per service (1.29 adds an
# "Attaching to" line that v2 does not print).
report() { # ENGINE-CLI COMPOSE-COMMAND...
  local engine=$1
  shift
  "$@" up -d >/dev/null 2>&1
  sleep 2
  echo "## ps -a (name, state, exit code)"
  "$@" ps -a -q | xargs $engine inspect --format '{{.Name}} {{.State.Status}} {{.State.ExitCode}}' |
    sed 's|^/||; s/_/-/g' | sort
  for s in web db once; do
    echo "## logs $s"
    "$@" logs --no-color "$s" 2>&1 | grep -v '^Attaching to ' | sed 's/^[^|]*| //' | sort
  done
  echo "## port web 80"
  "$@" port web 80 | sed 's/^0.0.0.0/127.0.0.1/'
  "$@" down -v >/dev/null 2>&1
}
report "$berth" $berth compose > "$work/berth.txt"
report docker docker-compose > "$work/docker-compose.txt"
cat "$work/berth.txt"
diff -u "$work/docker-compose.txt" "$work/berth.txt"
echo "berth compose and docker-compose 1.29 agree on ps, logs and port"
