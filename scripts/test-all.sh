#!/usr/bin/env bash
# The whole test suite on a fresh Debian/Ubuntu machine: system packages, npm ci, type-check,
# lint, every test (unit, golden, real tools, network namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
npm ci --no-audit --no-fund
npm run typecheck
npm run lint
npm test
