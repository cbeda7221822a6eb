#!/usr/bin/env bash
# Builds the parts of a one-node cluster that the control-plane build
# (test/envtest/build.sh) does not: kubelet, kube-scheduler and kube-proxy from the
# same k8s.io/kubernetes wrapper module (test/envtest/kube), kube-router (its
# NetworkPolicy firewall only) and CoreDNS from their Go modules, and the pause
# binary from Kubernetes' own build/pause/linux/pause.c with gcc -static. The
# container runtime, CNI plugins and packet tools come from Debian's packages,
# installed when missing. Nothing prebuilt is downloaded; only Go modules come from
# the module proxy, and packages from Debian.
#
# Output (printed as the last line): the assets directory,
#   ${FORESTALL_CACHE:-$HOME/.cache/forestall}/kube-node/<kube>-kube-router-<v>-coredns-<v>
# (not .../node/, which scripts/node-lts.sh uses for Node.js). A binary already
# there is reused, so a warm run takes well under a second per binary.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
envtest=$(cd "$here/../envtest" && pwd)
log() { echo "[node] $*" >&2; }
# shellcheck source=../envtest/go-build.sh
. "$envtest/go-build.sh"

KUBE_VERSION=$(cat "$envtest/KUBE_VERSION")
# kube-router v2.1.0 is the only version the Go module proxy serves, and security
# issues are reported against it. It is pinned for this test harness only: it runs
# as the node's NetworkPolicy firewall on a cluster whose traffic never leaves the
# machine (test/node/up.sh installs a guard table first), never in the product.
KUBE_ROUTER_VERSION=$(module_version "$here/kube-router" github.com/cloudnativelabs/kube-router/v2)
COREDNS_VERSION=$(module_version "$here/coredns" github.com/coredns/coredns)
cache=${FORESTALL_CACHE:-$HOME/.cache/forestall}
assets="$cache/kube-node/${KUBE_VERSION}-kube-router-${KUBE_ROUTER_VERSION}-coredns-${COREDNS_VERSION}"
mkdir -p "$assets"

# Debian packages: containerd and runc (the runtime), the CNI plugins (bridge,
# host-local, loopback, portmap), the tools kubelet, kube-proxy and kube-router
# call, busybox-static for the test image, and bind9 (named: the RPZ resolver of
# test/e2e/dns-block, run on loopback). iptables stays on Debian's default nf_tables backend: the harness never
# calls iptables-legacy (its tables cannot be removed without a reboot).
packages=(containerd runc containernetworking-plugins iptables nftables ipset conntrack socat ethtool
  busybox-static bind9)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  start=$SECONDS
  log "installing Debian packages: ${missing[*]}"
  apt_log=$(mktemp)
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$apt_log" 2>&1; then
    tail -20 "$apt_log" >&2; log "apt-get failed for: ${missing[*]}"; exit 1
  fi
  rm -f "$apt_log"
  log "installed packages in $((SECONDS - start))s"
fi
# Debian's containerd package starts its own daemon on /run/containerd; the harness
# runs its own containerd with its own root and socket, so the packaged one stays off.
if command -v systemctl >/dev/null && systemctl is-active --quiet containerd 2>/dev/null; then
  systemctl disable --now containerd >&2 || true
fi

ldflags=$(kube_ldflags "$KUBE_VERSION")
for b in kubelet kube-scheduler kube-proxy; do
  [ -x "$assets/$b" ] || build_in "$envtest/kube" "$assets/$b" "$ldflags" "k8s.io/kubernetes/cmd/$b"
done
[ -x "$assets/kube-router" ] || build_in "$here/kube-router" "$assets/kube-router" \
  "-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=${KUBE_ROUTER_VERSION} -X github.com/cloudnativelabs/kube-router/v2/pkg/version.BuildDate=1970-01-01T00:00:00Z" \
  github.com/cloudnativelabs/kube-router/v2/cmd/kube-router
[ -x "$assets/coredns" ] || build_in "$here/coredns" "$assets/coredns" \
  "-s -w -X github.com/coredns/coredns/coremain.GitCommit=${COREDNS_VERSION}" .

# The pause binary: the infra container of every pod. Built as Kubernetes' Makefile
# does (build/pause/Makefile), from the source in the pinned k8s.io/kubernetes module.
if ! [ -x "$assets/pause" ]; then
  kube_dir=$(cd /tmp && go mod download -json "k8s.io/kubernetes@${KUBE_VERSION}" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  gcc -Os -Wall -Werror -static -DVERSION="${KUBE_VERSION}-forestall" \
    -o "$assets/pause.tmp" "$kube_dir/build/pause/linux/pause.c"
  mv "$assets/pause.tmp" "$assets/pause"
  log "built pause ($(stat -c %s "$assets/pause") bytes)"
fi

# The node's images, as docker-archive tarballs that test/node/up.sh imports into
# containerd: pause (the sandbox), busybox (the test workload: sh, httpd, nc, wget)
# and CoreDNS (the cluster DNS). Each is one layer with only what it runs.
images="$assets/images"
mkdir -p "$images"
busybox_version=$(dpkg-query -W -f '${Version}' busybox-static | sed -E 's/^[0-9]+://; s/-.*//')
image() { # image <file> <tag> <entrypoint-json> [cmd-json], from the rootfs in $rootfs
  bash "$here/docker-archive.sh" "$images/$1" "$2" "$rootfs" "$3" "${4:-null}"
  echo "$2" > "$images/$1.tag"
  log "wrote image $2 ($(stat -c %s "$images/$1") bytes)"
}
if ! [ -f "$images/pause.tar" ]; then
  rootfs=$(mktemp -d); install -m 0755 "$assets/pause" "$rootfs/pause"
  image pause.tar "localhost/forestall/pause:${KUBE_VERSION}" '["/pause"]'
  rm -rf "$rootfs"
fi
if ! [ -f "$images/busybox.tar" ]; then
  rootfs=$(mktemp -d)
  mkdir -p "$rootfs"/{bin,etc,tmp,www}
  chmod 1777 "$rootfs/tmp"
  install -m 0755 /bin/busybox "$rootfs/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -s busybox "$rootfs/bin/$applet"
  done
  printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$rootfs/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' > "$rootfs/etc/group"
  echo ok > "$rootfs/www/index.html"
  image busybox.tar "localhost/forestall/busybox:${busybox_version}" null '["sh"]'
  rm -rf "$rootfs"
fi
if ! [ -f "$images/coredns.tar" ]; then
  rootfs=$(mktemp -d); install -m 0755 "$assets/coredns" "$rootfs/coredns"
  image coredns.tar "localhost/forestall/coredns:${COREDNS_VERSION}" '["/coredns"]' \
    '["-conf", "/etc/coredns/Corefile"]'
  rm -rf "$rootfs"
fi
echo "$assets"
