# Sourced by the benchmarks: bringing up the peers (docker, podman) the same way everywhere,
# as ../shared/bench-peers.md describes.

started_dockerd=

# Starts dockerd unless one answers already; waits for it, then $1 more seconds so that a
# fresh daemon has settled before anything is timed. Returns non-zero without docker.
start_dockerd() {
  command -v dockerd >/dev/null || return 1
  if ! docker version >/dev/null 2>&1; then
    setsid nohup dockerd >"${work:-/tmp}/dockerd.log" 2>&1 </dev/null &
    started_dockerd=1
    for _ in $(seq 60); do docker version >/dev/null 2>&1 && break; sleep 0.5; done
    sleep "${1:-0}"
  fi
  docker version >/dev/null 2>&1
}

# Stops the dockerd that start_dockerd started (for the scripts' cleanup).
stop_dockerd() {
  [ -n "$started_dockerd" ] && kill "$(cat /var/run/docker.pid)" 2>/dev/null || true
}

# Podman needs this configuration here (bench-peers.md): root lacks CAP_SYS_RESOURCE, and
# crun 1.8 refuses the hybrid cgroup layout. Returns non-zero without podman.
podman_ready() {
  command -v podman >/dev/null || return 1
  if [ ! -f /etc/containers/containers.conf ]; then
    mkdir -p /etc/containers
    printf '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n[engine]\nruntime = "runc"\n' >/etc/containers/containers.conf
  fi
}
