#!/usr/bin/env bash
# Host state that a one-node cluster touches, so a test can show that test/node/down.sh
# left nothing behind.
#
#   leftovers.sh snapshot FILE        write the state now into FILE
#   leftovers.sh diff BEFORE AFTER    print what differs; exit 1 when anything does
#
# Each line is "<section> <fact>", sorted, with counters, handles and ids that change
# by themselves left out. Listeners and processes are only those of the node's own
# processes and fixed ports, and the helper servers the e2e cases start (named,
# Gitea), because other tests on the machine come and go. The
# loaded kernel modules are shown but do not count: a module the node loaded
# (br_netfilter, overlay, ...) cannot be unloaded safely while anything else may use it.
#
# iptables-legacy is never called (calling it creates a legacy table that cannot be
# removed without a reboot); its tables are read from /proc/net/*_tables_names.
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# The fixed ports the node listens on (API server, etcd, kubelet, kube-proxy,
# scheduler, controller-manager, kube-router health).
NODE_PORTS="^($API_PORT|$ETCD_CLIENT_PORT|$ETCD_PEER_PORT|10248|10249|10250|10256|10257|10259|20244)\$"
# Beside the paths the node uses outside NODE_DIR, some it must never create.
PATHS=("${FIXED_PATHS[@]}" "$NODE_DIR" /etc/cni /opt/cni /var/lib/containerd /opt/containerd
  /etc/kubernetes /var/lib/kube-router /var/lib/kube-proxy /run/kube-router)

# The node's processes: those whose command line names the node's directory or its
# binaries' cache (NODE_DIR, .../kube-node/), and those in a kubepods
# cgroup (pause and workload processes). Other tests' envtest processes run the
# same binaries from other directories and are not counted.
NODE_PROC_PATTERN="$NODE_DIR|/kube-node/"
# And the helpers the e2e cases start themselves: BIND's named (test/e2e/dns-block)
# and Gitea (test/e2e/git-delivery). Their command lines cannot tell them from other
# suites' copies: Gitea runs from the shared cache with a work directory under /tmp
# named as the integration suite's (test/harness/gitea-server.ts, local-server.ts).
# What tells them apart is their environment: they inherit FORESTALL_E2E=1 from the
# e2e run (package.json test:e2e; vitest's workers pass it on), and no other suite
# sets it (with it set, vitest.config.ts adds the e2e project, which brings up the node).
E2E_HELPERS='^(named|gitea)$'
E2E_MARK='FORESTALL_E2E=1'
NODE_MOUNTS="^($NODE_DIR|/run/netns|/run/containerd|/var/lib/(kubelet|containerd|cni)|/opt|/sys/fs/cgroup|/proc|/sys\$|/dev)"

snapshot() {
  local s
  {
    for pid in $(ps -e -o pid=); do
      args=$(tr '\0' ' ' 2>/dev/null < "/proc/$pid/cmdline") || continue
      if [[ "$args" =~ $NODE_PROC_PATTERN ]] || grep -q kubepods "/proc/$pid/cgroup" 2>/dev/null; then
        echo "proc $args"
      elif comm=$(cat "/proc/$pid/comm" 2>/dev/null) && [[ "$comm" =~ $E2E_HELPERS ]]; then
        env=$(tr '\0' '\n' 2>/dev/null < "/proc/$pid/environ") || continue
        if grep -qxF "$E2E_MARK" <<<"$env"; then
          echo "proc ${args% } (started by the e2e suite)"
        fi
      fi
    done
    ip -o link show | awk '{sub(/@.*/, "", $2); print "link", $2, $3}'
    ip -o addr show | awk '{print "addr", $2, $3, $4}'
    ip route show table all | sed "s/^/route /"  # both families
    ip netns list 2>/dev/null | awk '{print "netns", $1}'
    # Mounts where the node mounts, and any overlay or netns mount anywhere; other
    # work on the machine (a chroot being built under /tmp) mounts elsewhere.
    awk -v re="$NODE_MOUNTS" '$5 ~ re || $9 == "overlay" || $9 == "nsfs" {print "mount", $5, $9, $10}' \
      /proc/self/mountinfo
    iptables-save 2>/dev/null | sed -E '/^#/d; s/\[[0-9]+:[0-9]+\]//' | sed 's/^/iptables /'
    ip6tables-save 2>/dev/null | sed -E '/^#/d; s/\[[0-9]+:[0-9]+\]//' | sed 's/^/ip6tables /'
    for f in /proc/net/ip_tables_names /proc/net/ip6_tables_names; do
      if [ -r "$f" ]; then sed "s|^|legacy-table $(basename "$f") |" "$f"; fi
    done
    nft list ruleset 2>/dev/null \
      | sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/; s/ # handle [0-9]+//' \
      | sed '/^\s*$/d; s/^/nft /'
    ipset list -n 2>/dev/null | sed 's/^/ipset /'
    # process_api/* are the sandbox's own per-command cgroups, not the node's.
    find /sys/fs/cgroup -mindepth 1 -maxdepth 3 -type d -not -path '*/process_api*' 2>/dev/null \
      | sed 's/^/cgroup /'
    for s in "${SAVED_SYSCTLS[@]}"; do
      echo "sysctl $s=$(sysctl -n "$s" 2>/dev/null || echo absent)"
    done
    for s in "${PATHS[@]}"; do
      if [ -e "$s" ]; then find "$s" -maxdepth 2 2>/dev/null | sed 's/^/path /'; fi
    done
    ss -Hlntu 2>/dev/null | awk -v re="$NODE_PORTS" '{n = split($5, a, ":"); if (a[n] ~ re) print "listen", $1, $5}'
    if [ -r /proc/modules ]; then awk '{print "module", $1}' /proc/modules; fi
  } | LC_ALL=C sort -u
}

case "${1:-}" in
  snapshot)
    [ -n "${2:-}" ] || { echo "usage: $0 snapshot FILE" >&2; exit 2; }
    snapshot > "$2" ;;
  diff)
    [ -n "${3:-}" ] || { echo "usage: $0 diff BEFORE AFTER" >&2; exit 2; }
    changed=$(LC_ALL=C comm -3 "$2" "$3" | sed -E 's/^\t/+ /; t; s/^/- /' || true)
    modules=$(grep -E '^[-+] module ' <<<"$changed" || true)
    rest=$(grep -vE '^[-+] module ' <<<"$changed" || true)
    [ -z "$modules" ] || { echo "kernel modules (not counted):"; echo "$modules"; }
    if [ -n "$rest" ]; then
      echo "left behind (+) or removed (-) since the snapshot:"
      echo "$rest"
      exit 1
    fi
    echo "nothing left behind" ;;
  *) echo "usage: $0 snapshot FILE | diff BEFORE AFTER" >&2; exit 2 ;;
esac
