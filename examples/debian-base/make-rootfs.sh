#!/usr/bin/env bash
# The project's Debian base image, made the way the official one is: a debootstrap'd rootfs
# (minbase) in a tar, to be imported or `ADD`ed `FROM scratch`.
# Usage (root): bash examples/debian-base/make-rootfs.sh OUT.tar [SUITE]
set -euo pipefail
out=$1
suite=${2:-bookworm}
command -v debootstrap >/dev/null || { apt-get update -qq; apt-get install -y -qq debootstrap >/dev/null; }
dir=$(mktemp -d /var/tmp/berth-debian.XXXXXX)
trap 'rm -rf "$dir"' EXIT
debootstrap --variant=minbase "$suite" "$dir" http://deb.debian.org/debian >/dev/null
# What the official image also leaves out: package lists and caches.
rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/log/*.log
tar --numeric-owner -C "$dir" -cf "$out" .
