#!/usr/bin/env bash
# Builds (or reuses) a Debian rootfs that boots under systemd-nspawn as an intentlb LB node:
# systemd as PID 1 plus the daemons intentlb drives. The tree is cached under a directory keyed
# by the suite and package list, so a rerun with the same list returns at once.
# Usage: scripts/build-node-rootfs.sh [cache-dir]   → prints the rootfs path on stdout.
set -euo pipefail
SUITE="${INTENTLB_ROOTFS_SUITE:-bookworm}"
PACKAGES="systemd,systemd-sysv,dbus,iproute2,procps,curl,haproxy,bird2,keepalived,nftables"
CACHE="${1:-${INTENTLB_ROOTFS_CACHE:-/var/cache/intentlb/rootfs}}"
command -v mmdebstrap >/dev/null || { echo "build-node-rootfs: mmdebstrap is not installed (scripts/install-system-deps.sh)" >&2; exit 2; }
KEY="$(printf '%s\n%s\n%s\n' "$SUITE" "$PACKAGES" "v1" | sha256sum | cut -c1-16)"
ROOT="$CACHE/$SUITE-$KEY"
if [ -f "$ROOT/.intentlb-rootfs-ready" ]; then echo "$ROOT"; exit 0; fi
mkdir -p "$CACHE"
TMP="$(mktemp -d "$CACHE/.build-XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
# The distribution enables haproxy/bird/keepalived on install; intentlb runs its own units, so the
# packaged ones are masked (a packaged haproxy.service would bind :80 before a deploy).
mmdebstrap --quiet --variant=minbase --include="$PACKAGES" \
  --customize-hook='for s in haproxy bird keepalived nftables; do chroot "$1" systemctl mask "$s.service" >/dev/null 2>&1 || true; done' \
  --customize-hook='chroot "$1" systemctl mask systemd-networkd.service systemd-resolved.service systemd-timesyncd.service >/dev/null 2>&1 || true' \
  --customize-hook='echo intentlb-node > "$1/etc/hostname"; : > "$1/etc/machine-id"' \
  "$SUITE" "$TMP/root" >&2
touch "$TMP/root/.intentlb-rootfs-ready"
rm -rf "$ROOT"
mv "$TMP/root" "$ROOT"
echo "$ROOT"
