#!/usr/bin/env bash
# Installs the Debian packages berth's setup and tests need (as root), skipping apt when they
# are all present already.
set -euo pipefail
pkgs=(busybox-static skopeo umoci jq ca-certificates libseccomp-dev pkg-config procps libc6-dev
      iproute2 iptables util-linux docker-registry apache2-utils openssl curl debootstrap
      docker-compose)
# The API tests drive a docker CLI: the machine's 28 at /usr/local/bin/docker, else Debian's.
if [ ! -x /usr/local/bin/docker ] && ! command -v docker >/dev/null; then pkgs+=(docker.io); fi
# The dashboard's web app is built by crates/dashboard/build.rs with npm (the machine's
# Node.js, else Debian's); its browser tests drive Debian's Chromium with playwright-core and
# Debian's Firefox ESR with puppeteer-core (WebDriver BiDi).
if ! command -v npm >/dev/null; then pkgs+=(nodejs npm); fi
pkgs+=(chromium firefox-esr fonts-dejavu-core)
# The build display test gives `berth build` a terminal with tmux.
pkgs+=(tmux)
# Git sources in builds clone with git (the machine's, else Debian's; its daemon serves the
# tests' repositories on 127.0.0.1).
if ! command -v git >/dev/null; then pkgs+=(git); fi
# `build --ssh ID=KEYFILE` serves key files with OpenSSH's ssh-agent (tests make keys too).
pkgs+=(openssh-client)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The API tests drive docker-py (with websocket-client, for attach/ws) and
# testcontainers-python too (from PyPI).
if ! python3 -c 'import docker, testcontainers, websocket' 2>/dev/null; then
  echo "deps: installing docker-py and testcontainers"
  python3 -m pip install -q --root-user-action=ignore 'docker>=7,<8' 'testcontainers>=4,<5' 'websocket-client>=1,<2'
fi
# The npm packages of the web app and of its browser tests, from their lock files.
root=$(cd "$(dirname "$0")/.." && pwd)
for web in crates/dashboard/web tests/dashboard; do
  if [ ! -f "$root/$web/node_modules/.package-lock.json" ] ||
     [ "$root/$web/package-lock.json" -nt "$root/$web/node_modules/.package-lock.json" ]; then
    echo "deps: npm ci in $web"
    (cd "$root/$web" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
