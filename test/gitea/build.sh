#!/usr/bin/env bash
# Builds the Gitea server the forge integration tests run against (DESIGN.md: "forge |
# Gitea built from its Go module"), from the code.gitea.io/gitea module on the Go
# module proxy. Nothing prebuilt is downloaded and no git clone is made.
#
# Output (printed as the last line on stdout): the path of the gitea binary,
#   ${FORESTALL_CACHE:-$HOME/.cache/forestall}/gitea/<version>/gitea
# (or $FORESTALL_GITEA_BINARY when set: nothing is built, it must be executable).
# Progress goes to stderr. A binary already in the cache is reused, so a warm run
# takes well under a second. Any failure exits non-zero: the tests that need Gitea
# must fail, never skip, when it cannot be built.
#
# How it is built, and why:
# - SQLite, embedded, so each test server is one process with its database in a temp
#   dir. Up to 1.26 Gitea's SQLite driver is mattn/go-sqlite3, which needs cgo and
#   gcc: CGO_ENABLED=1 with tags `sqlite sqlite_unlock_notify`, as Gitea's own
#   release builds. From 1.27 the default is the pure-Go modernc.org/sqlite (no tag,
#   no cgo); the script picks by looking for that driver file in the source.
# - Tag `bindata`: templates, options (licences, .gitignore and README templates used
#   by auto-init) and migration schemas are embedded after `go generate` packs them,
#   so the cached binary is self-contained and needs no source tree beside it. The
#   web frontend (JS/CSS, built with pnpm/vite) is not built: the tests use only the
#   REST API and git over HTTP.
# - `go install module@version` is refused because Gitea's go.mod has replace
#   directives, so the module source is fetched with `go mod download` and built as
#   the main module in a scratch copy.
# - Pinned to 1.26.0: 1.27.x renamed its module to gitea.dev and needs
#   gitea.dev/actions-proto-go and gitea.dev/sdk, which the module proxy answers
#   with 403 "not available", so it cannot be built from the proxy alone.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
GITEA_VERSION=$(tr -d '[:space:]' < "$here/GITEA_VERSION")
cache=${FORESTALL_CACHE:-$HOME/.cache/forestall}
out_dir="$cache/gitea/$GITEA_VERSION"
bin="$out_dir/gitea"

log() { echo "[gitea] $*" >&2; }
# shellcheck source=../cache.sh
. "$here/../cache.sh"

use_given FORESTALL_GITEA_BINARY
reuse_or_lock "$bin" "$out_dir.lock" test -x "$bin"
mkdir -p "$out_dir"

command -v go >/dev/null 2>&1 || { log "go not found: Gitea is built from its Go module"; exit 1; }
start=$SECONDS
log "fetching code.gitea.io/gitea@${GITEA_VERSION} from the module proxy"
src=$(cd /tmp && go mod download -json "code.gitea.io/gitea@${GITEA_VERSION}" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
[ -n "$src" ] && [ -f "$src/go.mod" ] || { log "go mod download did not give a source directory for code.gitea.io/gitea@${GITEA_VERSION}"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$src/." "$work/"
chmod -R u+w "$work"

export GOFLAGS="-buildvcs=false -trimpath"
if [ -f "$work/models/db/driver_sqlite_modernc.go" ]; then
  export CGO_ENABLED=0; tags="bindata"
else
  command -v "${CC:-gcc}" >/dev/null 2>&1 \
    || { log "gitea ${GITEA_VERSION} needs cgo for SQLite (mattn/go-sqlite3) and ${CC:-gcc} is missing: apt-get install gcc"; exit 1; }
  export CGO_ENABLED=1; tags="bindata sqlite sqlite_unlock_notify"
fi
# Only the four bindata packs; `go generate ./...` would also need pnpm and node tools.
for pkg in modules/public modules/options modules/templates modules/migration; do
  (cd "$work/$pkg" && CGO_ENABLED=0 go generate -tags bindata . >&2)
done
version=${GITEA_VERSION#v}
log "building gitea ${GITEA_VERSION} (CGO_ENABLED=${CGO_ENABLED}, tags: ${tags}; a cold build takes several minutes)"
(cd "$work" && go build -tags "$tags" \
  -ldflags "-s -w -X 'main.Version=${version}' -X 'main.Tags=${tags}'" \
  -o "$bin.tmp" .)
mv "$bin.tmp" "$bin"
log "built gitea ${GITEA_VERSION} in $((SECONDS - start))s"
echo "$bin"
