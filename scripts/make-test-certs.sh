#!/usr/bin/env bash
# Makes the self-signed certificate bundles of the example site and the test fixtures.
# usage: scripts/make-test-certs.sh <certs-dir> <days> <file-name>:<san>[,<san>...] ...
set -euo pipefail
dir=$1; days=$2; shift 2
mkdir -p "$dir"
for spec in "$@"; do
  file=${spec%%:*}; sans=${spec#*:}
  first=${sans%%,*}
  san=$(echo "$sans" | sed 's/\([^,]*\)/DNS:\1/g')
  tmp=$(mktemp -d)
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days "$days" \
    -subj "/CN=$first" -addext "subjectAltName=$san" -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
  cat "$tmp/cert.pem" "$tmp/key.pem" > "$dir/$file.pem"
  rm -rf "$tmp"
done
