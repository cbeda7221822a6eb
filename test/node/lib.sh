# shellcheck shell=bash disable=SC2034  # sourced; the variables are used by its callers
# Sourced by test/node/up.sh, down.sh and smoke.sh: where the node keeps its state,
# its addresses, and small helpers. The caller sets -euo pipefail.
#
# One node per machine: kubelet, kube-proxy and kube-router bind fixed ports
# (10250, 10256, 20244) and some paths are fixed whatever the root settings say
# (/var/lib/kubelet/device-plugins, /var/log/pods, /var/lib/cni, /run/containerd,
# /run/netns), so suites that use the node run serially.

node_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NODE_DIR=${NODE_DIR:-/tmp/forestall-node}
POD_CIDR=10.244.0.0/16
NODE_POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/16
API_SERVICE_IP=10.96.0.1
DNS_SERVICE_IP=10.96.0.10
# Test hosts (test-host.sh): network namespaces with /30s from this /24. A public
# range, because Forestall's guardrails refuse to block private, shared (CGNAT),
# documentation and reserved addresses, and the e2e suite blocks test hosts. It is
# routed only to the test hosts' veths, and the guard table drops anything to or from
# it on the uplink, so nothing addressed to it leaves the machine.
TEST_HOST_NET=11.250.0
TEST_HOST_CIDR=$TEST_HOST_NET.0/24
BRIDGE=forestall0
API_PORT=6443
ETCD_CLIENT_PORT=22379
ETCD_PEER_PORT=22380
NODE_NAME=$(hostname | tr '[:upper:]' '[:lower:]')
# Paths outside NODE_DIR that the node creates; down.sh removes each one that up.sh
# did not find already there.
FIXED_PATHS=(/var/lib/kubelet /var/log/pods /var/log/containers /var/lib/cni /run/containerd
  /run/netns)
# Sysctls that kubelet (kernel.*, vm.*), the bridge plugin (ip_forward) and kube-proxy
# (conntrack, route_localnet; its config here asks it to leave them) may write; up.sh
# saves them, down.sh puts them back and leftovers.sh compares them.
SAVED_SYSCTLS=(kernel.panic kernel.panic_on_oops vm.overcommit_memory vm.panic_on_oom
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.ip_forward
  net.ipv4.conf.all.forwarding net.ipv6.conf.all.forwarding net.ipv4.conf.all.route_localnet
  net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables
  net.netfilter.nf_conntrack_max net.netfilter.nf_conntrack_tcp_timeout_established
  net.netfilter.nf_conntrack_tcp_timeout_close_wait)
GUARD_TABLE=forestall_guard

log() { echo "[node $(date -u +%H:%M:%S)] $*" >&2; }
die() { log "$*"; exit 1; }

# The uplink: the interface of the default route, which pod traffic must never use.
uplink() { ip -4 route show default | awk '{for (i = 1; i < NF; i++) if ($i == "dev") {print $(i + 1); exit}}'; }
uplink_ip() { ip -4 -o addr show dev "$(uplink)" | awk '{sub(/\/.*/, "", $4); print $4; exit}'; }

kubectl() { "$ENVTEST_ASSETS/kubectl" --kubeconfig "$NODE_DIR/admin.kubeconfig" "$@"; }

# wait_for <seconds> <description> <command...>: polls every 0.1 s.
wait_for() {
  local limit=$1 what=$2; shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt "$deadline" ] || { log "timed out after ${limit}s waiting for $what"; return 1; }
    sleep 0.1
  done
}

# Milliseconds since the epoch, for the figures the scripts print.
now_ms() { date +%s%3N; }
