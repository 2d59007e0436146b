#!/usr/bin/env bash
# The interop runs, before every release (not in CI: they take longer than its budget): an LB node
# under a booted systemd (anycast, and VRRP beside a supervised peer), FRR as the lab router, Debian's slapd/postfix/mariadb/postgresql/redis
# behind the VIPs, and testssl.sh grading every TLS policy (RSA, ECDSA, mixed binds). Needs root (network namespaces,
# systemd-nspawn) and network access for the container's Debian rootfs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
npm ci --no-audit --no-fund
node scripts/run-tests.mjs --interop "$@"
