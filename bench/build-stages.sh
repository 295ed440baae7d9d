#!/usr/bin/env bash
# Multi-stage builds, berth side by side with BuildKit: Debian's docker 20.10 client with
# DOCKER_BUILDKIT=1 against Debian's dockerd (the docker CLI 28 here has no buildx plugin),
# both on the same busybox image imported from the project's rootfs (nothing downloads):
#   1. two independent stages that each take 2 s and a third copying from both
#      (--no-cache): BuildKit builds the two at once, so does berth;
#   2. a fully cached rebuild of a three-stage Dockerfile over a 500-file context;
#   3. its rebuild after one context file of one stage changed: that stage's COPY and RUN
#      run again, and the final stage's COPY --from runs again only if what it copies changed.
# Usage (root): bash bench/build-stages.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/peers.sh
command -v hyperfine >/dev/null || { apt-get update -qq; apt-get install -y -qq hyperfine >/dev/null; }
command -v dockerd >/dev/null || { apt-get update -qq; apt-get install -y -qq docker.io >/dev/null; }
cargo build --release -q
work=$(mktemp -d /var/tmp/berth-bench-stages.XXXXXX)
B="$PWD/target/release/berth --root $work/root"
# Debian's client: BuildKit is built into it.
D=/usr/bin/docker
cleanup() {
  [ -x "$D" ] && $D rmi -f bench-stages bench-multi >/dev/null 2>&1 || true
  stop_dockerd
  rm -rf "$work"
}
trap cleanup EXIT

bash tests/fixtures/make-busybox-rootfs.sh "$work/busybox.tar"
$B import -c 'CMD ["sh"]' "$work/busybox.tar" busybox >/dev/null
peers=()
if [ -x "$D" ] && start_dockerd 2; then
  $D import -c 'CMD ["sh"]' "$work/busybox.tar" busybox >/dev/null
  peers+=(buildkit)
fi
build() { # $1 = engine, $2.. = build arguments
  local e=$1; shift
  case $e in
    berth) echo "$B build -q $*" ;;
    buildkit) echo "env DOCKER_BUILDKIT=1 $D build -q $*" ;;
  esac
}

mkdir -p "$work/stages"
cat > "$work/stages/Dockerfile" <<'DOCKERFILE'
FROM busybox AS one
RUN sleep 2 && echo one > /one
FROM busybox AS two
RUN sleep 2 && echo two > /two
FROM busybox
COPY --from=one /one /one
COPY --from=two /two /two
DOCKERFILE

mkdir -p "$work/multi/deps" "$work/multi/src"
for i in $(seq 1 250); do head -c 2048 /dev/urandom > "$work/multi/deps/d$i"; done
for i in $(seq 1 250); do head -c 2048 /dev/urandom > "$work/multi/src/s$i"; done
cat > "$work/multi/Dockerfile" <<'DOCKERFILE'
FROM busybox AS deps
COPY deps/ /deps/
RUN cat /deps/* | md5sum > /deps.sum
FROM busybox AS app
COPY src/ /src/
RUN find /src -type f | wc -l > /count && tar -C /src -cf /app.tar .
FROM busybox
COPY --from=deps /deps.sum /deps.sum
COPY --from=app /app.tar /app.tar
CMD ["ls", "-l", "/app.tar"]
DOCKERFILE

echo "== independent stages (--no-cache --network none): two 2 s stages and one using both"
args=(--warmup 1 --runs 5)
for e in berth "${peers[@]}"; do
  args+=(-n "$e" "$(build "$e" --no-cache --network none -t bench-stages "$work/stages")")
done
hyperfine "${args[@]}"

for e in berth "${peers[@]}"; do $(build "$e" -t bench-multi "$work/multi") >/dev/null; done
echo "== fully cached rebuild, three stages"
args=(--warmup 2 --runs 10)
for e in berth "${peers[@]}"; do
  args+=(-n "$e" "$(build "$e" -t bench-multi "$work/multi")")
done
hyperfine "${args[@]}"

echo "== rebuild after one file of the app stage changed"
change="head -c 2048 /dev/urandom > $work/multi/src/s7"
args=(--warmup 1 --runs 5 --prepare "$change")
for e in berth "${peers[@]}"; do
  args+=(-n "$e" "$(build "$e" -t bench-multi "$work/multi")")
done
hyperfine "${args[@]}"
