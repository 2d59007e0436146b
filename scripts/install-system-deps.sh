#!/usr/bin/env bash
# Installs the system tools intentlb drives and its tests use, from Debian/Ubuntu packages.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y --no-install-recommends \
  haproxy bird2 keepalived nftables icinga2 wrk systemd \
  prometheus monitoring-plugins-basic monitoring-plugins-standard \
  iproute2 procps openssl curl ca-certificates systemd-container mmdebstrap \
  iputils-arping ansible-core openssh-server openssh-client git \
  frr testssl.sh slapd ldap-utils postfix mariadb-server mariadb-client postgresql \
  redis-server redis-tools
# The distribution starts these services on install; intentlb runs its own instances instead
# (frr is the lab's second router; slapd, postfix, mariadb, postgresql and redis are the lab's real
# backends: scripts/test-interop.sh starts them in the lab's namespaces).
for s in haproxy bird keepalived icinga2 prometheus frr slapd postfix mariadb postgresql redis-server; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1; then
    $SUDO systemctl disable --now "$s" >/dev/null 2>&1 || true
  fi
done
