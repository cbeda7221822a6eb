#!/usr/bin/env bash
# Installs Debian's `iprange`, the reference the IP ingest benchmark (bench/ip-ingest.ts)
# compares our parser and CIDR aggregation against. Idempotent: does nothing when it
# is already on PATH. Needs root (apt-get); exits non-zero with a reason otherwise, so
# the benchmark never silently runs without its reference.
set -euo pipefail

if command -v iprange >/dev/null 2>&1; then
  echo "iprange already installed: $(command -v iprange)"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-iprange: iprange is missing and installing it needs root (apt-get install -y iprange); run this script as root" >&2
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-iprange: iprange is missing and apt-get is not available; install Debian's iprange package by other means" >&2
  exit 1
fi

if ! apt-get update -qq || ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iprange; then
  echo "setup-iprange: apt-get could not install iprange (no network to the Debian mirror, or no such package)" >&2
  exit 1
fi

if ! command -v iprange >/dev/null 2>&1; then
  echo "setup-iprange: apt-get reported success but iprange is still not on PATH" >&2
  exit 1
fi
echo "iprange installed: $(command -v iprange)"
