#!/usr/bin/env bash
# Writes a one-layer container image as a docker-archive tarball, the format that
# `ctr images import` (and `docker load`) reads, from a root file system directory.
# No daemon and no registry: the layer is a tar of the directory, the config names
# it by digest, and manifest.json carries the tag.
#
#   docker-archive.sh OUT.tar NAME:TAG ROOTFS ENTRYPOINT_JSON [CMD_JSON]
#   docker-archive.sh images/pause.tar localhost/forestall/pause:v1 rootfs '["/pause"]'
#
# The archive is reproducible: fixed mtimes, owners and order, so the same rootfs
# gives the same image ID.
set -euo pipefail
[ $# -ge 4 ] || { echo "usage: $0 OUT.tar NAME:TAG ROOTFS ENTRYPOINT_JSON [CMD_JSON]" >&2; exit 2; }
out=$1 tag=$2 rootfs=$3 entrypoint=$4 cmd=${5:-null}
[ -d "$rootfs" ] || { echo "$0: ROOTFS $rootfs is not a directory" >&2; exit 2; }
for j in "$entrypoint" "$cmd"; do
  jq -e 'type == "array" or . == null' <<<"$j" >/dev/null \
    || { echo "$0: ENTRYPOINT_JSON and CMD_JSON must be JSON arrays, got: $j" >&2; exit 2; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=posix \
  --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
  -C "$rootfs" -cf "$work/layer.tar" .
layer=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
mkdir "$work/$layer"
mv "$work/layer.tar" "$work/$layer/layer.tar"
jq -cn --arg diff "sha256:$layer" --argjson entrypoint "$entrypoint" --argjson cmd "$cmd" '{
  architecture: "amd64", os: "linux", created: "1970-01-01T00:00:00Z",
  config: {Env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], Entrypoint: $entrypoint, Cmd: $cmd},
  rootfs: {type: "layers", diff_ids: [$diff]},
  history: [{created: "1970-01-01T00:00:00Z", created_by: "test/node/docker-archive.sh"}]
}' > "$work/config.json"
config=$(sha256sum "$work/config.json" | cut -d' ' -f1)
mv "$work/config.json" "$work/$config.json"
jq -cn --arg config "$config.json" --arg tag "$tag" --arg layer "$layer/layer.tar" \
  '[{Config: $config, RepoTags: [$tag], Layers: [$layer]}]' > "$work/manifest.json"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work" \
  -cf "$out.tmp" manifest.json "$config.json" "$layer"
mv "$out.tmp" "$out"
