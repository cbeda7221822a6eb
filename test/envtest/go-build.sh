# shellcheck shell=bash
# Sourced (not run) by test/envtest/build.sh and test/node/build.sh: how this repo
# builds a Go command from a wrapper module without downloading anything prebuilt.
# The caller defines log() and sets -euo pipefail.

export GOFLAGS="-buildvcs=false -trimpath"
export CGO_ENABLED=0

# kube_ldflags <v1.x.y>: the version stamps that Kubernetes' own release build sets
# (hack/lib/version.sh), so `--version` and the API server's /version tell the truth.
kube_ldflags() {
  local version=$1 minor p flags="-s -w"
  minor=${version#v1.}; minor=${minor%%.*}
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $p.gitVersion=${version} -X $p.gitMajor=1 -X $p.gitMinor=${minor}"
    flags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$flags"
}

# build_in <module-dir> <out> <ldflags> <package>: builds <package> in a scratch copy
# of the wrapper module (go.mod, go.sum and any main.go), so -mod=mod may resolve
# what the wrapper's go.sum lacks without touching the repo. The go.sum the build
# resolved is kept as <out>.go.sum, to refresh the wrapper's go.sum from.
# The build runs at nice 10: the machines are small and shared.
build_in() {
  local src=$1 out=$2 ldflags=$3 pkg=$4 work start=$SECONDS
  work=$(mktemp -d)
  cp "$src"/go.mod "$work"/
  [ -f "$src/go.sum" ] && cp "$src/go.sum" "$work"/
  cp "$src"/*.go "$work"/ 2>/dev/null || true
  log "building $(basename "$out") from $pkg (cold builds take minutes)"
  (cd "$work" && nice -n 10 go build -mod=mod -ldflags "$ldflags" -o "$out.tmp" "$pkg")
  mv "$out.tmp" "$out"
  cp "$work/go.sum" "$out.go.sum" 2>/dev/null || true
  rm -rf "$work"
  log "built $(basename "$out") in $((SECONDS - start))s"
}

# module_version <module-dir> <module-path>: the version the wrapper's go.mod requires.
module_version() {
  (cd "$1" && go list -m -f '{{.Version}}' "$2")
}
