#!/usr/bin/env bash
# Smoke check of the real node (to become a test/e2e/ case): snapshot the host, bring
# the node up, run two busybox httpd servers and a probe pod, and show that a
# NetworkPolicy of the EgressDeny shape (egress to 0.0.0.0/0 except one server's /32)
# makes the probe's connections to that server fail while the other still answers,
# and that deleting the policy lets them through again. Then take the node down and
# show that the host is as it was.
#
# Prints the figures (node start, policy to first refused connection, policy deletion
# to first answer, teardown) and exits non-zero on the first thing that is not as
# expected. A blocked connection may show as "refused" or as a timeout (kube-router
# rejects with ICMP, which the kernel rate-limits): both count as blocked.
#
# Environment: NODE_DIR; SMOKE_KEEP=1 leaves the node up at the end.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
work=$(mktemp -d)
fail() { log "FAIL: $*"; exit 1; }

bash "$node_here/leftovers.sh" snapshot "$work/before"
cleanup() {
  local rc=$?
  if [ "${SMOKE_KEEP:-}" = 1 ] && [ $rc = 0 ]; then return; fi
  t=$(now_ms)
  bash "$node_here/down.sh" || rc=1
  log "teardown took $(($(now_ms) - t)) ms"
  bash "$node_here/leftovers.sh" snapshot "$work/after"
  bash "$node_here/leftovers.sh" diff "$work/before" "$work/after" >&2 || rc=1
  rm -rf "$work"
  [ $rc = 0 ] && log "smoke passed" || log "smoke FAILED"
  exit $rc
}
trap cleanup EXIT

t=$(now_ms)
bash "$node_here/up.sh" > /dev/null
log "node up (with warm build checks) in $(($(now_ms) - t)) ms"
. "$NODE_DIR/env"
busybox=$(cat "$NODE_ASSETS/images/busybox.tar.tag")

# The servers and the probe: busybox's httpd, and a loop that tries server-a every
# 50 ms and logs "<start> <end> ok|blocked" in /proc/uptime seconds (the host's clock
# too, so the log lines and the moment of `kubectl apply` share one time base).
t=$(now_ms)
# A pod created in a namespace before its "default" ServiceAccount exists is refused.
for ns in smoke-servers smoke-probe; do
  kubectl create namespace "$ns" >/dev/null
  kubectl -n "$ns" wait --for=create serviceaccount/default --timeout=30s >/dev/null
done
kubectl apply -f - >/dev/null <<EOF
$(for s in a b; do cat <<POD
---
apiVersion: v1
kind: Pod
metadata: {name: server-$s, namespace: smoke-servers, labels: {app: server-$s}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: httpd
      image: $busybox
      imagePullPolicy: Never
      command: [httpd, -f, -p, "8080", -h, /www]
      readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
POD
done)
EOF
all_ready() { # all_ready <namespace>: waits up to 60 s for every pod there to be Ready
  kubectl -n "$1" wait --for=condition=Ready pod --all --timeout=60s >/dev/null
}
all_ready smoke-servers || fail "servers not Ready"
ip_a=$(kubectl -n smoke-servers get pod server-a -o jsonpath='{.status.podIP}')
ip_b=$(kubectl -n smoke-servers get pod server-b -o jsonpath='{.status.podIP}')
[ -n "$ip_a" ] && [ -n "$ip_b" ] || fail "a server has no pod IP (server-a '$ip_a', server-b '$ip_b')"
log "servers Ready in $(($(now_ms) - t)) ms: server-a $ip_a, server-b $ip_b"

kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: probe, namespace: smoke-probe, labels: {app: probe}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: probe
      image: $busybox
      imagePullPolicy: Never
      command:
        - sh
        - -c
        - |
          while :; do
            s=\$(cut -d' ' -f1 /proc/uptime)
            if echo | nc -w 1 $ip_a 8080 >/dev/null 2>&1; then r=ok; else r=blocked; fi
            echo "\$s \$(cut -d' ' -f1 /proc/uptime) \$r"
            sleep 0.05
          done
EOF
all_ready smoke-probe || fail "probe not Ready"

# Before any policy: both servers answer, over the DNS name of the kube-dns Service too.
http_get() { # http_get <ip>: the body of GET / on :8080, from the probe
  kubectl -n smoke-probe exec probe -- sh -c "echo 'GET / HTTP/1.0
' | timeout 3 nc $1 8080 2>/dev/null | tail -1"
}
[ "$(http_get "$ip_a")" = ok ] || fail "server-a does not answer before the policy"
[ "$(http_get "$ip_b")" = ok ] || fail "server-b does not answer before the policy"
kubectl -n smoke-probe exec probe -- nslookup kube-dns.kube-system.svc.cluster.local \
  | grep -q "$DNS_SERVICE_IP" || fail "CoreDNS does not resolve kube-dns.kube-system.svc.cluster.local"
log "before the policy: server-a and server-b answer; CoreDNS resolves Service names"

last_state() { kubectl -n smoke-probe logs probe --tail=1 | awk '{print $3}'; }
uptime_now() { cut -d' ' -f1 /proc/uptime; }
# first_after <uptime> <state>: "<start> <end>" of the first attempt that started at or
# after <uptime> and ended in <state>.
first_after() {
  kubectl -n smoke-probe logs probe | awk -v t="$1" -v s="$2" '$1 >= t && $3 == s {print $1, $2; exit}'
}
[ "$(last_state)" = ok ] || fail "the probe loop does not reach server-a"

policy() {
  cat <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress-deny-server-a, namespace: smoke-probe}
spec:
  podSelector: {matchLabels: {app: probe}}
  policyTypes: [Egress]
  egress:
    - to:
        - ipBlock: {cidr: 0.0.0.0/0, except: ["$ip_a/32"]}
EOF
}
is_blocked() { [ "$(last_state)" = blocked ]; }
is_open() { [ "$(last_state)" = ok ]; }
# Each round: apply the policy, wait for a blocked attempt, check the other server and a
# fresh connection, delete the policy, wait for an answered attempt. The figure for a
# round is the start of the first blocked (answered) attempt after the apply (delete):
# the rules were in place by then. A blocked attempt ends at once when refused, or
# after nc's 1 s timeout when the kernel rate-limited kube-router's ICMP reject.
rounds=${SMOKE_ROUNDS:-5}
: > "$work/figures"
for _ in $(seq 1 "$rounds"); do
  applied=$(uptime_now)
  policy | kubectl apply -f - >/dev/null
  wait_for 30 "the probe to be blocked" is_blocked || fail "server-a still reachable 30 s after the policy"
  read -r b_start b_end < <(first_after "$applied" blocked)
  [ "$(http_get "$ip_b")" = ok ] || fail "server-b stopped answering under a policy that blocks only server-a"
  if http_get "$ip_a" | grep -q ok; then fail "server-a answers a fresh connection under the policy"; fi
  deleted=$(uptime_now)
  kubectl -n smoke-probe delete networkpolicy egress-deny-server-a >/dev/null
  wait_for 30 "the probe to get through again" is_open || fail "server-a still blocked 30 s after deleting the policy"
  read -r o_start _ < <(first_after "$deleted" ok)
  awk -v a="$applied" -v bs="$b_start" -v be="$b_end" -v d="$deleted" -v o="$o_start" 'BEGIN {
    printf "%.2f %.2f %.2f\n", bs - a, be - bs, o - d }' >> "$work/figures"
  sleep 1 # between rounds, so each starts from the open state
done
awk '{print "[node] round " NR ": policy -> blocked " $1 " s (that attempt took " $2 " s), delete -> open " $3 " s"}' "$work/figures" >&2
med() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
log "policy applied -> first blocked attempt: median $(cut -d' ' -f1 "$work/figures" | med) s," \
  "max $(cut -d' ' -f1 "$work/figures" | sort -n | tail -1) s over $rounds rounds;" \
  "policy deleted -> first answered attempt: median $(cut -d' ' -f3 "$work/figures" | med) s"

# The shape network:networkpolicy really renders for EgressDeny (its snapshot in
# connectors/network/networkpolicy/__snapshots__) also allows every pod in every
# namespace (namespaceSelector: {}), so cluster DNS keeps working. NetworkPolicy peers
# are ORed, so a pod IP in `except` is still reachable through that peer: the blocked
# address must not be a pod. A test host in a network namespace is not a pod, and only
# the ipBlock decides for it.
ext_ip=$(bash "$node_here/test-host.sh" up 0)
[ "$(http_get "$ext_ip")" = ok ] || fail "the test host $ext_ip does not answer before the policy"
kubectl apply -f - >/dev/null <<EOF2
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: forestall-shape, namespace: smoke-probe}
spec:
  podSelector: {matchLabels: {app: probe}}
  policyTypes: [Egress]
  egress:
    - to:
        - ipBlock: {cidr: 0.0.0.0/0, except: ["$ext_ip/32", "$ip_a/32"]}
        - ipBlock: {cidr: "::/0"}
        - namespaceSelector: {}
EOF2
blocked_ext() { ! http_get "$ext_ip" | grep -q ok; }
wait_for 30 "the test host to be blocked" blocked_ext || fail "the test host still answers under the connector's shape"
[ "$(http_get "$ip_b")" = ok ] || fail "server-b stopped answering under the connector's shape"
[ "$(http_get "$ip_a")" = ok ] || fail "server-a (a pod in except) no longer answers: namespaceSelector: {} should allow it"
kubectl -n smoke-probe exec probe -- nslookup kube-dns.kube-system.svc.cluster.local \
  | grep -q "$DNS_SERVICE_IP" || fail "cluster DNS broke under the connector's shape"
log "connector's EgressDeny shape: the test host $ext_ip is blocked; server-b and DNS" \
  "still answer; server-a, a pod listed in except, still answers through namespaceSelector: {}"
