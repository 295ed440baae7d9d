#!/usr/bin/env bash
# Build benchmark, berth side by side with docker (BuildKit) and podman (buildah) where
# installed, on the same Debian base image built from the same rootfs:
#   1. a cold build (--no-cache, --network none) of an offline Dockerfile: a 2,000-file
#      context plus a 64 MB file copied in, two RUN steps over them, a second stage copying
#      from the first;
#   2. a fully cached rebuild of the reference app (examples/kiwi-app);
#   3. a rebuild of the app after its app.py changed (the last COPY and what follows);
#   4. a cold build of two independent stages that each take 2 s and a third copying from
#      both: BuildKit builds the two at once (about 2 s); so does berth.
# Setting up builds the app once per engine, which downloads from Debian's mirror and PyPI
# (as bench/kiwi-image.sh does); nothing timed touches the network.
# Usage (root): bash bench/build.sh        (RUNS=N changes the cold-build runs, default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/peers.sh
command -v hyperfine >/dev/null || { apt-get update -qq; apt-get install -y -qq hyperfine >/dev/null; }
cargo build --release -q
runs=${RUNS:-3}
work=$(mktemp -d /var/tmp/berth-bench-build.XXXXXX)
B="$PWD/target/release/berth --root $work/root"
cleanup() {
  command -v docker >/dev/null && docker rmi -f bench-synth bench-kiwi bench-stages >/dev/null 2>&1 || true
  command -v podman >/dev/null && podman rmi -f bench-synth bench-kiwi bench-stages >/dev/null 2>&1 || true
  stop_dockerd
  rm -rf "$work"
}
trap cleanup EXIT

# The Debian rootfs is kept between runs (debootstrap takes a while).
rootfs=/var/tmp/berth-debian-base-rootfs.tar
[ -s "$rootfs" ] || bash examples/debian-base/make-rootfs.sh "$rootfs"
mkdir -p "$work/base" && cp examples/debian-base/Dockerfile "$work/base/" && ln "$rootfs" "$work/base/rootfs.tar" 2>/dev/null || cp "$rootfs" "$work/base/rootfs.tar"
cp -r examples/kiwi-app "$work/app"
cp /usr/local/share/ca-certificates/*.crt "$work/app/ca-certificates/" 2>/dev/null || true

# The offline build's context: many small files and one big one.
mkdir -p "$work/synth/files/small"
for i in $(seq 1 2000); do head -c 4096 /dev/urandom > "$work/synth/files/small/f$i"; done
head -c $((64 << 20)) /dev/urandom > "$work/synth/files/big.bin"
cat > "$work/synth/Dockerfile" <<'EOF'
FROM debian-base:bookworm AS build
COPY files/ /src/
RUN cp -a /src /copy && find /copy -type f | wc -l
RUN tar -C /copy -cf /copy.tar . && sha256sum /copy.tar
FROM debian-base:bookworm
COPY --from=build /copy.tar /copy.tar
CMD ["ls", "-l", "/copy.tar"]
EOF

peers=()
$B build -q -t debian-base:bookworm "$work/base" >/dev/null
echo "setting up: the app built once by berth (network)"
$B build -q -t bench-kiwi "$work/app" >/dev/null
if start_dockerd 2; then
  echo "setting up: the same with docker"
  docker build -q -t debian-base:bookworm "$work/base" >/dev/null
  docker build -q -t bench-kiwi "$work/app" >/dev/null && peers+=(docker)
fi
if podman_ready; then
  echo "setting up: the same with podman"
  if podman build -q -t debian-base:bookworm "$work/base" >/dev/null 2>&1 \
    && podman build -q -t bench-kiwi "$work/app" >/dev/null 2>&1; then
    peers+=(podman)
  fi
fi

echo "== cold build, offline (--no-cache --network none), $runs runs"
args=(--warmup 1 --runs "$runs" -n berth "$B build -q --no-cache --network none -t bench-synth $work/synth")
for p in "${peers[@]}"; do
  args+=(-n "$p" "$p build -q --no-cache --network none -t bench-synth $work/synth")
done
hyperfine "${args[@]}"

echo "== fully cached rebuild of the app"
args=(--warmup 2 --runs 10 -n berth "$B build -q -t bench-kiwi $work/app")
for p in "${peers[@]}"; do args+=(-n "$p" "$p build -q -t bench-kiwi $work/app"); done
hyperfine "${args[@]}"

echo "== rebuild after app.py changed"
change="echo \"# \$(date +%s%N)\" >> $work/app/app.py"
args=(--warmup 1 --runs 5 --prepare "$change" -n berth "$B build -q -t bench-kiwi $work/app")
for p in "${peers[@]}"; do args+=(-n "$p" "$p build -q -t bench-kiwi $work/app"); done
hyperfine "${args[@]}"

echo "== independent stages (--no-cache): two 2 s stages and one using both"
mkdir -p "$work/stages"
cat > "$work/stages/Dockerfile" <<'EOF'
FROM debian-base:bookworm AS one
RUN sleep 2 && echo one > /one
FROM debian-base:bookworm AS two
RUN sleep 2 && echo two > /two
FROM debian-base:bookworm
COPY --from=one /one /one
COPY --from=two /two /two
EOF
args=(--warmup 1 --runs 5 -n berth "$B build -q --no-cache --network none -t bench-stages $work/stages")
for p in "${peers[@]}"; do
  if [ "$p" = docker ]; then
    args+=(-n docker-buildkit "DOCKER_BUILDKIT=1 docker build -q --no-cache --network none -t bench-stages $work/stages")
  else
    args+=(-n "$p" "$p build -q --no-cache --network none -t bench-stages $work/stages")
  fi
done
hyperfine "${args[@]}"
