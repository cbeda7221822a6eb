#!/usr/bin/env bash
# Test hosts for the node: a network namespace with a veth to the host and busybox
# httpd on :8080 answering "ok" (the namespace is httpd's own, unnamed). Its address is outside the pod and service ranges,
# so a NetworkPolicy peer that selects pods (namespaceSelector: {}) does not match it
# and only an ipBlock decides whether a pod may reach it, as for an address on the
# Internet. Pods reach it through the bridge's gateway and the host's routing; its
# range is in the guard table's set, so nothing from it leaves through the uplink.
#
#   test-host.sh up <index 0-63>     prints the host's address (11.250.0.<4i+2>)
#   test-host.sh down <index>
#   test-host.sh run <index> CMD...  runs CMD in the host's network namespace: a client
#                                    outside the cluster (as the Internet would be)
#
# State (the httpd PID, its web root) lives under $NODE_DIR/test-hosts; down.sh removes
# every test host that is still there.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
cmd=${1:-} index=${2:-}
usage="usage: $0 up|down <index 0-63> | run <index> CMD..."
[[ "$index" =~ ^[0-9]+$ ]] && [ "$index" -lt 64 ] || die "$usage"
veth=fth$index
host_ip=${TEST_HOST_NET}.$((4 * index + 1))
peer_ip=${TEST_HOST_NET}.$((4 * index + 2))
state=$NODE_DIR/test-hosts/$index

case "$cmd" in
  up)
    [ -d "$NODE_DIR/pids" ] || die "no node at $NODE_DIR (the guard table must be in place first)"
    mkdir -p "$state/www"
    echo ok > "$state/www/index.html"
    # The namespace is httpd's own (unshare --net), not one named under /run/netns:
    # `ip netns add` bind-mounts /run/netns onto itself, which hides the netns mounts
    # that CNI has made there, so containerd can no longer tear pods down.
    setsid unshare --net /bin/busybox httpd -f -p 8080 -h "$state/www" \
      > "$state/httpd.log" 2>&1 < /dev/null &
    pid=$!
    echo "$pid" > "$state/httpd.pid"
    in_ns() { nsenter --net="/proc/$pid/ns/net" "$@"; }
    is_httpd() { [ "$(readlink "/proc/$pid/exe")" = "$(readlink -f /bin/busybox)" ]; }
    wait_for 5 "httpd $pid in its own namespace" is_httpd
    ip link add "$veth" type veth peer name eth0 netns "$pid"
    ip addr add "$host_ip/30" dev "$veth"
    ip link set "$veth" up
    in_ns ip addr add "$peer_ip/30" dev eth0
    in_ns ip link set eth0 up
    in_ns ip link set lo up
    in_ns ip route add default via "$host_ip"
    wait_for 10 "httpd on $peer_ip" curl -fsS --max-time 1 "http://$peer_ip:8080/"
    echo "$peer_ip" ;;
  down)
    # The namespace, and the veth pair with it, go when httpd exits.
    if [ -f "$state/httpd.pid" ]; then kill "$(cat "$state/httpd.pid")" 2>/dev/null || true; fi
    ip link del "$veth" 2>/dev/null || true
    rm -rf "$state" ;;
  run)
    [ -f "$state/httpd.pid" ] || die "test host $index is not up"
    shift 2
    exec nsenter --net="/proc/$(cat "$state/httpd.pid")/ns/net" "$@" ;;
  *) die "$usage" ;;
esac
