#!/usr/bin/env bash
# Builds the real control-plane binaries the integration tests run against:
# kube-apiserver, kube-controller-manager and kubectl (for `kubectl kustomize`, as
# Argo CD and Flux build a Git tree) from the k8s.io/kubernetes Go module,
# etcd from go.etcd.io/etcd/server/v3, and helm from helm.sh/helm/v3.
# Nothing prebuilt is downloaded; only Go modules come from the module proxy.
#
# Output (printed as the last line): the assets directory holding the binaries.
#   $KUBEBUILDER_ASSETS when set (nothing is built; the binaries must be there),
#   else ${FORESTALL_CACHE:-$HOME/.cache/forestall}/envtest/<kube>-etcd-<etcd>.
# A binary already in the cache is reused, so a warm run takes well under a second.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
KUBE_VERSION=$(cat "$here/KUBE_VERSION")
ETCD_VERSION=$(cat "$here/ETCD_VERSION")
HELM_VERSION=$(cat "$here/HELM_VERSION")
cache=${FORESTALL_CACHE:-$HOME/.cache/forestall}
log() { echo "[envtest] $*" >&2; }
# shellcheck source=go-build.sh
. "$here/go-build.sh"

if [ -n "${KUBEBUILDER_ASSETS:-}" ]; then
  for b in etcd kube-apiserver kubectl; do
    [ -x "$KUBEBUILDER_ASSETS/$b" ] || { log "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS has no $b"; exit 1; }
  done
  assets=$KUBEBUILDER_ASSETS
else
  assets="$cache/envtest/${KUBE_VERSION}-etcd-${ETCD_VERSION}"
fi
mkdir -p "$assets" "$cache/tools"

if [ -z "${KUBEBUILDER_ASSETS:-}" ]; then
  ldflags=$(kube_ldflags "$KUBE_VERSION")
  for b in kube-apiserver kube-controller-manager kubectl; do
    [ -x "$assets/$b" ] || build_in "$here/kube" "$assets/$b" "$ldflags" "k8s.io/kubernetes/cmd/$b"
  done
  [ -x "$assets/etcd" ] || build_in "$here/etcd" "$assets/etcd" "-s -w" "."
fi

# helm's release builds stamp the Kubernetes version of its client-go into chartutil
# and the lint rules (its Makefile does the same); without it an offline
# `helm template` assumes v1.20 and refuses charts with a newer kubeVersion.
helm_gomod=$(cd /tmp && go mod download -json "helm.sh/helm/v3@${HELM_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
helm_k8s_minor=$(sed -n 's/^[[:space:]]*k8s.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$helm_gomod" | head -1)
helm_bin="$cache/tools/helm-${HELM_VERSION}-k8s1.${helm_k8s_minor}"
if [ -n "${KUBEBUILDER_ASSETS:-}" ] && [ -x "$assets/helm" ]; then
  echo "$assets"   # the caller's own helm is used as is
  exit 0
fi
if ! [ -x "$helm_bin" ]; then
  start=$SECONDS
  log "building helm ${HELM_VERSION} from helm.sh/helm/v3"
  tmpbin=$(mktemp -d)
  helm_ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}"
  for p in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
    helm_ldflags+=" -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=${helm_k8s_minor}"
  done
  GOBIN=$tmpbin go install -ldflags "$helm_ldflags" "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"
  mv "$tmpbin/helm" "$helm_bin"; rm -rf "$tmpbin"
  log "built helm in $((SECONDS - start))s"
fi
ln -sf "$helm_bin" "$assets/helm" || { log "cannot link helm into $assets; put a helm binary there"; exit 1; }
echo "$assets"
