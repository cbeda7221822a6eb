#!/usr/bin/env bash
# Builds the real Prometheus parts that prove the chart's alerts and the controller's
# metrics (issue 16): promtool (`check rules`, `test rules`) and the prometheus server
# (scrapes a running controller and evaluates the chart's rules), from the
# github.com/prometheus/prometheus Go module on the module proxy. Nothing prebuilt is
# downloaded and no git clone is made.
#
# Output (printed as the last line on stdout): the directory holding both binaries,
#   ${FORESTALL_CACHE:-$HOME/.cache/forestall}/prometheus/<version>
# (or $FORESTALL_PROMETHEUS_DIR when set: nothing is built, it must hold executable
# prometheus and promtool). Progress goes to stderr. Binaries already in the cache are
# reused, so a warm run takes well under a second. Any failure exits non-zero: the
# tests that need Prometheus must fail, never skip, when it cannot be built.
#
# Cold build, measured on the 2-core machine with an empty Go module and build cache:
# 340 s (5 min 40 s) for both binaries, fetching the modules from the proxy included,
# on a machine that was not idle. Warm: well under a second.
#
# How it is built, and why:
# - PROMETHEUS_VERSION holds the release (v3.16.0). The Go module is not tagged with
#   it: Prometheus tags its module v0.<major><minor, two digits>.<patch> (v3.16.0 is
#   v0.316.0; v2.53.1 was v0.53.1), because a v3 module path would need a /v3 suffix.
#   The script derives the module version and checks the module's VERSION file.
# - `go install module@version`: the module's go.mod has no replace directives.
# - Tags `netgo` (as the release builds) and `remove_all_sd`: only the file, HTTP
#   and static service discovery are compiled in, not the cloud SDKs (AWS, Azure,
#   GCE, Kubernetes...), which would triple the build. The tests use static targets.
# - No `builtinassets` tag: the web UI (React, built with npm) is not built, so the
#   server's UI pages are empty. Only the HTTP API (/api/v1/...) is used.
# - The release's version stamps (github.com/prometheus/common/version), so
#   `prometheus --version` and /api/v1/status/buildinfo tell the truth.
# - At nice 10, like the other builds: the machines are small and shared.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PROMETHEUS_VERSION=$(tr -d '[:space:]' < "$here/PROMETHEUS_VERSION")
cache=${FORESTALL_CACHE:-$HOME/.cache/forestall}
out_dir="$cache/prometheus/$PROMETHEUS_VERSION"

log() { echo "[prometheus] $*" >&2; }
# shellcheck source=../cache.sh
. "$here/../cache.sh"

if [ -n "${FORESTALL_PROMETHEUS_DIR:-}" ] && [ ! -x "$FORESTALL_PROMETHEUS_DIR/prometheus" ]; then
  log "FORESTALL_PROMETHEUS_DIR=$FORESTALL_PROMETHEUS_DIR has no executable prometheus"
  exit 1
fi
use_given FORESTALL_PROMETHEUS_DIR /promtool
reuse_or_lock "$out_dir" "$out_dir.lock" test -x "$out_dir/prometheus" -a -x "$out_dir/promtool"

command -v go >/dev/null 2>&1 || { log "go not found: Prometheus is built from its Go module"; exit 1; }

# v3.16.0 -> v0.316.0, v2.53.1 -> v0.53.1
if [[ $PROMETHEUS_VERSION =~ ^v3\.([0-9]+)\.([0-9]+)$ ]]; then
  module_version=$(printf 'v0.3%02d.%d' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}")
elif [[ $PROMETHEUS_VERSION =~ ^v2\.([0-9]+)\.([0-9]+)$ ]]; then
  module_version="v0.${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"
else
  log "PROMETHEUS_VERSION=$PROMETHEUS_VERSION is not a v2.x.y or v3.x.y release"
  exit 1
fi
module=github.com/prometheus/prometheus
start=$SECONDS
log "fetching $module@$module_version (Prometheus $PROMETHEUS_VERSION) from the module proxy"
src=$(cd /tmp && go mod download -json "$module@$module_version" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
if [ -z "$src" ] || [ ! -f "$src/VERSION" ]; then
  log "go mod download did not give a source directory for $module@$module_version"
  exit 1
fi
release=$(tr -d '[:space:]' < "$src/VERSION")
[ "v$release" = "$PROMETHEUS_VERSION" ] \
  || { log "$module@$module_version is Prometheus $release, not $PROMETHEUS_VERSION"; exit 1; }

export GOFLAGS="-buildvcs=false -trimpath"
export CGO_ENABLED=0
v=github.com/prometheus/common/version
ldflags="-s -w -X $v.Version=$release -X $v.Revision=$module_version -X $v.Branch=HEAD"
ldflags+=" -X $v.BuildUser=forestall -X $v.BuildDate=19700101-00:00:00"
tmpbin=$(mktemp -d)
trap 'rm -rf "$tmpbin"' EXIT
log "building prometheus and promtool $PROMETHEUS_VERSION (tags netgo remove_all_sd; a cold build takes minutes)"
GOBIN=$tmpbin nice -n 10 go install -tags "netgo remove_all_sd" -ldflags "$ldflags" \
  "$module/cmd/prometheus@$module_version" "$module/cmd/promtool@$module_version"
mkdir -p "$out_dir"
# promtool last: the cache test above needs both, so a half-copied pair is rebuilt.
mv "$tmpbin/prometheus" "$out_dir/prometheus"
mv "$tmpbin/promtool" "$out_dir/promtool"
log "built prometheus and promtool $PROMETHEUS_VERSION in $((SECONDS - start))s"
echo "$out_dir"
