#!/usr/bin/env bash
# Takes down the node that test/node/up.sh brought up and leaves nothing behind: no
# process, mount, netns, link, iptables or nft rule, ipset, cgroup, changed sysctl or
# directory. Safe to run twice, and after a failed or half-finished up.sh.
#
# Order matters:
#  1. delete the pods while kubelet still runs, so the CNI plugins remove their veths,
#     netns and addresses;
#  2. stop every process by its recorded PID, newest first;
#  3. kill what containerd left (shims; after a crash, the pods' processes), then
#     kube-proxy --cleanup;
#  4. unmount deepest first, then remove the kubepods cgroups, the bridge, the KUBE-*
#     and CNI-* rules, kube-router's ipsets, the guard table, and empty nft tables;
#  5. restore the sysctls and remove the directories up.sh created.
#
# Prints the guard table's counters: anything but 0 means pod traffic tried to leave
# the machine, and down.sh then exits 3 after cleaning up.
set -uo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || die "down.sh needs root"
began=$(now_ms)
if ! [ -d "$NODE_DIR" ]; then
  log "no node at $NODE_DIR"
  exit 0
fi
[ -f "$NODE_DIR/env" ] && . "$NODE_DIR/env"
UPLINK=${UPLINK:-$(uplink)}
status=0

# 1. Pods away while kubelet runs.
pid_of() { cat "$NODE_DIR/pids/$1.pid" 2>/dev/null; }
# running <pid>: exists and is not a zombie. up.sh's children are reparented to PID 1,
# which may reap them only seconds later, and kill -0 succeeds on a zombie.
running() { kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
alive() { local p; p=$(pid_of "$1") && [ -n "$p" ] && running "$p"; }
if alive kubelet && alive kube-apiserver && [ -n "${ENVTEST_ASSETS:-}" ]; then
  t=$(now_ms)
  namespaces=$(kubectl get ns -o name 2>/dev/null | sed 's|namespace/||' \
    | grep -vxE 'default|kube-system|kube-public|kube-node-lease' || true)
  for ns in $namespaces; do kubectl delete ns "$ns" --wait=false >/dev/null 2>&1 || true; done
  kubectl -n kube-system delete deploy --all --wait=false >/dev/null 2>&1 || true
  kubectl delete pods --all -A --grace-period=1 --wait=false >/dev/null 2>&1 || true
  no_pods() { [ -z "$(kubectl get pods -A -o name 2>/dev/null)" ]; }
  wait_for 60 "every pod deleted" no_pods || status=1
  # kubelet reports the pod gone once its sandbox is stopped; give CNI DEL its moment.
  sandboxes_gone() {
    [ -z "$(/usr/bin/ctr --address "$NODE_DIR/containerd/containerd.sock" -n k8s.io tasks ls -q 2>/dev/null)" ]
  }
  wait_for 30 "every sandbox stopped" sandboxes_gone || true
  log "pods deleted in $(($(now_ms) - t)) ms"
fi

# Test hosts (test-host.sh) that a test left.
for dir in "$NODE_DIR"/test-hosts/*/; do
  [ -d "$dir" ] && bash "$node_here/test-host.sh" down "$(basename "$dir")"
done

# 2. Processes, newest first, by the PIDs up.sh recorded.
stop_pid() { # stop_pid <name> <pid>
  kill -TERM "$2" 2>/dev/null || return 0
  local t
  t=$(now_ms)
  for _ in $(seq 1 100); do
    if ! running "$2"; then
      [ $(($(now_ms) - t)) -lt 1000 ] || log "$1 took $(($(now_ms) - t)) ms to stop"
      return 0
    fi
    sleep 0.1
  done
  log "$1 (pid $2) ignored SIGTERM for 10 s; killing it"
  kill -KILL "$2" 2>/dev/null || true
}
if [ -f "$NODE_DIR/pids/order" ]; then
  for name in $(tac "$NODE_DIR/pids/order"); do
    pid=$(pid_of "$name") || continue
    stop_pid "$name" "$pid"
  done
fi

# 3. What containerd leaves (its shims keep running on purpose when it stops, and
# after a crash of kubelet or containerd the pods' processes run on), then
# kube-proxy's rules. In that order: a pod process still running once the Service
# rules are gone would send Service traffic to the default route, into the guard.
for _ in 1 2 3; do
  procs=$(cat /sys/fs/cgroup/*/kubepods/cgroup.procs /sys/fs/cgroup/*/kubepods/*/cgroup.procs \
    /sys/fs/cgroup/*/kubepods/*/*/cgroup.procs /sys/fs/cgroup/*/kubepods/*/*/*/cgroup.procs \
    2>/dev/null | sort -u)
  [ -n "$procs" ] || break
  # shellcheck disable=SC2086 # one PID per word
  kill -KILL $procs 2>/dev/null || true
  sleep 0.2
done
for pid in $(pgrep -f "containerd-shim.* -address $NODE_DIR/containerd/containerd.sock" || true); do
  kill -KILL "$pid" 2>/dev/null || true
done
if [ -n "${NODE_ASSETS:-}" ] && [ -x "$NODE_ASSETS/kube-proxy" ]; then
  "$NODE_ASSETS/kube-proxy" --cleanup >/dev/null 2>&1 || true
fi

netns_was_mounted=0
grep -qx /run/netns "$NODE_DIR/mounts-before" 2>/dev/null && netns_was_mounted=1
# 4a. Mounts, deepest first: kubelet's volumes, containerd's rootfs and shm, the netns
# files CNI bind-mounted under /run/netns.
mounts() {
  awk -v d="$NODE_DIR" -v netns_was_mounted="$netns_was_mounted" '
    $5 == d || index($5, d "/") == 1 || $5 ~ "^/run/netns/cni-" ||
    ($5 == "/run/netns" && !netns_was_mounted) ||
    index($5, "/run/containerd/") == 1 || index($5, "/var/lib/kubelet/") == 1 {print $5}' \
    /proc/self/mountinfo | awk '{print length, $0}' | sort -rn | cut -d' ' -f2-
}
# Several passes: a mount over /run/netns itself (as `ip netns add` makes) hides the
# cni-* mounts beneath it until it is gone.
for _ in 1 2 3; do
  for m in $(mounts); do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  [ -n "$(mounts)" ] || break
done
[ -z "$(mounts)" ] || { log "still mounted: $(mounts | tr '\n' ' ')"; status=1; }
for f in /run/netns/cni-*; do [ -e "$f" ] && rm -f "$f"; done

# 4b. The kubepods cgroups in every hierarchy (cgroupfs driver), leaves first.
for root in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
  [ -d "$root" ] || continue
  find "$root" -depth -type d -exec rmdir {} + 2>/dev/null || true
  [ -d "$root" ] && { log "cgroup $root is still there"; status=1; }
done

# 4c. The bridge (its veths went with the pods; any left go with it).
for link in $(ip -o link show master "$BRIDGE" 2>/dev/null | awk -F': ' '{sub(/@.*/, "", $2); print $2}'); do
  ip link del "$link" 2>/dev/null || true
done
ip link del "$BRIDGE" 2>/dev/null || true

# 4d. KUBE-* (kube-proxy, kube-router, kubelet) and CNI-* (portmap) rules and chains,
# through iptables' nf_tables backend (never iptables-legacy: its tables cannot be
# removed without a reboot).
strip_rules() { # strip_rules <iptables-save> <iptables-restore>
  local saved
  saved=$("$1" 2>/dev/null) || return 0
  [ -n "$saved" ] || return 0
  grep -qE 'KUBE-|CNI-' <<<"$saved" || return 0
  awk '/^:(KUBE-|CNI-)/ {next} /^-A (KUBE-|CNI-)/ {next} / -j (KUBE-|CNI-)/ {next}
       / --jump (KUBE-|CNI-)/ {next} / -g (KUBE-|CNI-)/ {next} {print}' <<<"$saved" | "$2"
}
strip_rules iptables-save iptables-restore || status=1
strip_rules ip6tables-save ip6tables-restore || status=1
# kube-router's ipsets, once no rule refers to them.
for set in $(ipset list -n 2>/dev/null); do
  grep -qxF "$set" "$NODE_DIR/ipsets-before" 2>/dev/null && continue
  ipset destroy "$set" 2>/dev/null || { log "ipset $set could not be destroyed"; status=1; }
done

# 4e. The guard table: its counters, then the table.
if nft list table inet "$GUARD_TABLE" >/dev/null 2>&1; then
  counts=$(nft list table inet "$GUARD_TABLE" | awk '/counter packets/ {
    for (i = 1; i <= NF; i++) if ($i == "packets") s += $(i + 1)} END {print s + 0}')
  log "guard table: $counts packets dropped on the way out (must be 0)"
  if [ "$counts" != 0 ]; then
    nft list table inet "$GUARD_TABLE" >&2
    dmesg 2>/dev/null | grep 'forestall-guard: ' | tail -20 >&2
    status=3
  fi
  nft delete table inet "$GUARD_TABLE"
fi
# Tables iptables-nft created for the node and now holds no rule in: delete them.
for table in $(nft list tables 2>/dev/null | awk '{print $2 "/" $3}'); do
  grep -qx "table ${table%/*} ${table#*/}" "$NODE_DIR/nft-tables-before" 2>/dev/null && continue
  family=${table%/*} name=${table#*/}
  # Anything but the table, chain and set skeleton is a rule somebody still has.
  if nft list table "$family" "$name" | grep -vqE '^\s*(table |chain |set |type |flags |policy |\}|$)'; then
    log "nft table $family $name still has rules; leaving it"
    status=1
  else
    nft delete table "$family" "$name"
  fi
done

# 5. Sysctls back as they were, and the directories up.sh created.
if [ -f "$NODE_DIR/sysctls-before" ]; then
  while IFS='=' read -r key value; do
    [ "$(sysctl -n "$key" 2>/dev/null)" = "$value" ] || sysctl -qw "$key=$value" || status=1
  done < "$NODE_DIR/sysctls-before"
fi
# Never rm -rf through a mount (a hostPath volume would take host files with it).
if [ -n "$(mounts)" ]; then
  log "mounts remain, so $NODE_DIR and the node's host paths are kept; unmount and rerun"
  exit 1
fi
for p in "${FIXED_PATHS[@]}"; do
  grep -qxF "$p" "$NODE_DIR/paths-before" 2>/dev/null && continue
  rm -rf --one-file-system "$p"
done
# Pod traffic leaves conntrack entries behind until they time out; drop them now.
conntrack -D -s "$POD_CIDR" >/dev/null 2>&1 || true
conntrack -D -d "$SERVICE_CIDR" >/dev/null 2>&1 || true
rm -rf --one-file-system "$NODE_DIR"
log "node down in $(($(now_ms) - began)) ms"
exit $status
