#!/usr/bin/env bash
# Brings up a one-node Kubernetes cluster from real parts on this machine, with all of
# its state under $NODE_DIR (default /tmp/forestall-node), and prints the admin
# kubeconfig's path last. test/node/down.sh takes it down again and leaves nothing.
#
# Parts (built by test/envtest/build.sh and test/node/build.sh, so a cold first run
# takes minutes and a warm one seconds): etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, containerd and runc with the CNI bridge, kubelet, kube-proxy
# (iptables mode on the nf_tables backend), kube-router as the NetworkPolicy firewall,
# and CoreDNS as the cluster DNS (a Deployment behind the kube-dns Service).
#
# Traffic stays on the machine: before anything can start a pod, a guard table
# (nftables, table inet forestall_guard) drops whatever comes from the pod bridge,
# or from or to the pod, service and test-host ranges, and would leave through the
# uplink, and drops connections from the uplink to the node's ports. Its counters
# must stay 0; down.sh reports them, and each drop is logged to the kernel log
# ("forestall-guard: ").
#
# Environment: NODE_DIR; NODE_UP_TIMEOUT (seconds per wait, default 60).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || die "up.sh needs root (it runs kubelet, containerd and iptables)"
timeout_s=${NODE_UP_TIMEOUT:-60}
began=$(now_ms)

if [ -e "$NODE_DIR/pids" ]; then
  die "$NODE_DIR already holds a node; run test/node/down.sh first"
fi
for port in $API_PORT $ETCD_CLIENT_PORT $ETCD_PEER_PORT 10248 10249 10250 10256 10257 10259 20244; do
  if ss -Hltn "sport = :$port" | grep -q .; then
    die "port $port is in use; one node per machine (is another node or test running?)"
  fi
done

ENVTEST_ASSETS=$(bash "$node_here/../envtest/build.sh" | tail -1)
NODE_ASSETS=$(bash "$node_here/build.sh" | tail -1)
built=$(now_ms)
NODE_IP=$(uplink_ip)
UPLINK=$(uplink)
[ -n "$NODE_IP" ] || die "no IPv4 address on the default route's interface"

mkdir -p "$NODE_DIR"/{pids,logs,pki,etcd,containerd/opt,cni/net.d,cni/ipam,kubelet,kube-proxy}
chmod 700 "$NODE_DIR" "$NODE_DIR/etcd"
cat > "$NODE_DIR/env" <<EOF
ENVTEST_ASSETS=$ENVTEST_ASSETS
NODE_ASSETS=$NODE_ASSETS
NODE_IP=$NODE_IP
UPLINK=$UPLINK
EOF
for p in "${FIXED_PATHS[@]}"; do
  [ -e "$p" ] && echo "$p" >> "$NODE_DIR/paths-before"
done
touch "$NODE_DIR/paths-before"
for s in "${SAVED_SYSCTLS[@]}"; do
  v=$(sysctl -n "$s" 2>/dev/null) && echo "$s=$v" >> "$NODE_DIR/sysctls-before"
done
awk '{print $5}' /proc/self/mountinfo > "$NODE_DIR/mounts-before"
nft list tables > "$NODE_DIR/nft-tables-before" 2>/dev/null || true
ipset list -n > "$NODE_DIR/ipsets-before" 2>/dev/null || true

# From here on, a failure takes down what was started.
failed() {
  log "up failed; taking the node down (its logs are kept in $NODE_DIR.failed-logs)"
  rm -rf "$NODE_DIR.failed-logs"; cp -r "$NODE_DIR/logs" "$NODE_DIR.failed-logs" || true
  bash "$node_here/down.sh" || true
}
trap 'rc=$?; [ $rc = 0 ] || failed' EXIT

# --- The guard table, before anything can start a pod -------------------------------
log "installing the guard table (nft inet $GUARD_TABLE) on uplink $UPLINK"
nft -f - <<EOF
table inet $GUARD_TABLE {
  set node_ranges { type ipv4_addr; flags interval; elements = { $POD_CIDR, $SERVICE_CIDR, $TEST_HOST_CIDR } }
  chain forward {
    type filter hook forward priority -300; policy accept;
    iifname "$BRIDGE" oifname "$UPLINK" log prefix "forestall-guard: " counter drop comment "pod bridge to uplink"
  }
  chain postrouting {
    type filter hook postrouting priority -300; policy accept;
    oifname "$UPLINK" ip saddr @node_ranges log prefix "forestall-guard: " counter drop comment "from pod/service/test-host range to uplink"
    oifname "$UPLINK" ip daddr @node_ranges log prefix "forestall-guard: " counter drop comment "to pod/service/test-host range via uplink"
  }
  chain input {
    type filter hook input priority -300; policy accept;
    iifname "$UPLINK" tcp dport { $API_PORT, $ETCD_CLIENT_PORT, $ETCD_PEER_PORT, 10250, 10256, 20244, 30000-32767 } log prefix "forestall-guard: " counter drop comment "uplink to node ports"
    iifname "$UPLINK" udp dport { 30000-32767 } log prefix "forestall-guard: " counter drop comment "uplink to node ports"
  }
}
EOF

# --- Credentials ----------------------------------------------------------------------
# One CA signs the API server's serving certificate and its client certificate for
# kubelet (logs, exec); every component authenticates to the API server with a static
# token under the identity the bootstrap RBAC roles expect.
pki=$NODE_DIR/pki
ec_cert() { # ec_cert <name> <subject> <extensions>
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$pki/$1.key" -subj "$2" -out "$pki/$1.csr" 2>/dev/null
  openssl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 7 -out "$pki/$1.crt" -extfile <(printf '%s\n' "$3") 2>/dev/null
  rm -f "$pki/$1.csr"
}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 7 \
  -keyout "$pki/ca.key" -out "$pki/ca.crt" -subj "/CN=forestall-node-ca" 2>/dev/null
ec_cert apiserver "/CN=kube-apiserver" "subjectAltName=IP:127.0.0.1,IP:$NODE_IP,IP:$API_SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
extendedKeyUsage=serverAuth"
ec_cert kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "extendedKeyUsage=clientAuth"
openssl ecparam -name prime256v1 -genkey -noout -out "$pki/sa.key"
openssl ec -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
: > "$pki/tokens.csv"
kubeconfig() { # kubeconfig <name> <user> <groups>: a token and a kubeconfig for one component
  local token
  token=$(openssl rand -hex 24)
  echo "$token,$2,$2,\"$3\"" >> "$pki/tokens.csv"
  cat > "$NODE_DIR/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: node
  cluster: {server: "https://127.0.0.1:$API_PORT", certificate-authority: "$pki/ca.crt"}
users:
- name: $2
  user: {token: "$token"}
contexts:
- name: node
  context: {cluster: node, user: $2}
current-context: node
EOF
}
kubeconfig admin forestall-admin system:masters
kubeconfig controller-manager system:kube-controller-manager ""
kubeconfig scheduler system:kube-scheduler ""
kubeconfig kubelet "system:node:$NODE_NAME" system:nodes
kubeconfig kube-proxy system:kube-proxy ""
# kube-router's firewall has no bootstrap role of its own.
kubeconfig kube-router kube-router system:masters
chmod 600 "$pki"/*.key "$pki/tokens.csv" "$NODE_DIR"/*.kubeconfig

# start <name> <binary> <args...>: runs the binary itself in the background, in its own
# session so the caller's job control cannot signal it, and records its PID (not a
# subshell's: teardown kills by these PIDs).
start() {
  local name=$1 bin=$2; shift 2
  setsid "$bin" "$@" > "$NODE_DIR/logs/$name.log" 2>&1 < /dev/null &
  local pid=$!
  echo "$pid" > "$NODE_DIR/pids/$name.pid"
  echo "$name" >> "$NODE_DIR/pids/order"
  sleep 0.05
  if [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" != "$(readlink -f "$bin")" ]; then
    tail -20 "$NODE_DIR/logs/$name.log" >&2 || true
    die "$name (pid $pid) is not running $bin"
  fi
}
https_ok() { # https_ok <url> <kubeconfig-name>
  local token
  token=$(awk '/token:/ {gsub(/[{}"]/, ""); print $NF}' "$NODE_DIR/$2.kubeconfig")
  curl -fsS --max-time 2 --cacert "$pki/ca.crt" -H "Authorization: Bearer $token" "$1"
}

# --- Configuration ------------------------------------------------------------------
# containerd's own root, state and socket under NODE_DIR. restrict_oom_score_adj: root
# here lacks CAP_SYS_RESOURCE, so runc cannot give the pause container the -998
# containerd asks for ("can't get final child's PID from pipe"). The opt plugin's
# path would otherwise be /opt/containerd.
cat > "$NODE_DIR/containerd/config.toml" <<EOF
version = 2
root = "$NODE_DIR/containerd/root"
state = "$NODE_DIR/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$NODE_DIR/containerd/containerd.sock"
[ttrpc]
  address = "$NODE_DIR/containerd/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$NODE_DIR/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$(cat "$NODE_ASSETS/images/pause.tar.tag")"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE_DIR/cni/net.d"
EOF
# The bridge without masquerading: nothing a pod sends is meant to leave the machine.
cat > "$NODE_DIR/cni/net.d/10-forestall.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "forestall",
  "plugins": [
    {
      "type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local", "dataDir": "$NODE_DIR/cni/ipam",
        "ranges": [[{"subnet": "$NODE_POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
# Pods never see the host's resolver: a Default-policy pod gets this file, which names
# the cluster DNS only.
printf 'nameserver %s\nsearch cluster.local\n' "$DNS_SERVICE_IP" > "$NODE_DIR/resolv.conf"
cat > "$NODE_DIR/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
containerRuntimeEndpoint: unix://$NODE_DIR/containerd/containerd.sock
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
resolvConf: $NODE_DIR/resolv.conf
clusterDNS: [$DNS_SERVICE_IP]
clusterDomain: cluster.local
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: Webhook}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, nodefs.inodesFree: 1%, imagefs.available: 1%}
serializeImagePulls: false
maxPods: 30
rotateCertificates: false
registerNode: true
EOF
cat > "$NODE_DIR/kube-proxy/config.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $NODE_DIR/kube-proxy.kubeconfig}
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $POD_CIDR
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: ["$NODE_IP/32"]
# Leave the host's conntrack sysctls alone, and do not set route_localnet.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
iptables: {localhostNodePorts: false}
EOF
# --- Start ----------------------------------------------------------------------------
# etcd, then the API server; containerd starts and takes the images while the API
# server comes up. The node's components start once it serves, and CoreDNS once the
# node is Ready and kube-proxy has written the Service rules: a pod that reached for
# a Service IP before then would take the default route, into the guard.
t=$(now_ms)
start etcd "$ENVTEST_ASSETS/etcd" --name=node --data-dir="$NODE_DIR/etcd" \
  --listen-client-urls="http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --advertise-client-urls="http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="node=http://127.0.0.1:$ETCD_PEER_PORT" --unsafe-no-fsync
wait_for "$timeout_s" "etcd /health" curl -fsS "http://127.0.0.1:$ETCD_CLIENT_PORT/health"

# The API server listens on every address so pods reach it through the kubernetes
# Service, whose endpoint is the node's address; the guard drops the port on the uplink.
start kube-apiserver "$ENVTEST_ASSETS/kube-apiserver" \
  --etcd-servers="http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --bind-address=0.0.0.0 --secure-port="$API_PORT" --advertise-address="$NODE_IP" \
  --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
  --client-ca-file="$pki/ca.crt" \
  --kubelet-client-certificate="$pki/kubelet-client.crt" \
  --kubelet-client-key="$pki/kubelet-client.key" \
  --kubelet-preferred-address-types=Hostname,InternalIP \
  --service-cluster-ip-range="$SERVICE_CIDR" --allow-privileged=true \
  --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
  --token-auth-file="$pki/tokens.csv" \
  --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --shutdown-watch-termination-grace-period=1s --profiling=false
ctr() { /usr/bin/ctr --address "$NODE_DIR/containerd/containerd.sock" "$@"; }
start containerd /usr/bin/containerd --config "$NODE_DIR/containerd/config.toml"
wait_for "$timeout_s" "containerd" ctr version
for image in pause busybox coredns; do
  ctr -n k8s.io images import "$NODE_ASSETS/images/$image.tar" >/dev/null
done
images_ms=$(($(now_ms) - t))
wait_for "$timeout_s" "kube-apiserver /readyz" https_ok "https://127.0.0.1:$API_PORT/readyz" admin
control_plane_ms=$(($(now_ms) - t))

start kube-controller-manager "$ENVTEST_ASSETS/kube-controller-manager" \
  --kubeconfig="$NODE_DIR/controller-manager.kubeconfig" \
  --authentication-kubeconfig="$NODE_DIR/controller-manager.kubeconfig" \
  --authorization-kubeconfig="$NODE_DIR/controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port=10257 --leader-elect=false \
  --use-service-account-credentials=true \
  --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
  --allocate-node-cidrs=true --cluster-cidr="$POD_CIDR" --node-cidr-mask-size=24 \
  --service-cluster-ip-range="$SERVICE_CIDR" --profiling=false
start kube-scheduler "$NODE_ASSETS/kube-scheduler" \
  --kubeconfig="$NODE_DIR/scheduler.kubeconfig" \
  --authentication-kubeconfig="$NODE_DIR/scheduler.kubeconfig" \
  --authorization-kubeconfig="$NODE_DIR/scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port=10259 --leader-elect=false --profiling=false

# --- Cluster DNS ----------------------------------------------------------------------
# CoreDNS as users run it, and as connectors/README tells them to mount Forestall's
# block list: the Corefile imports /etc/coredns/custom/*.override from a projected
# volume. There is no `forward`: names outside the cluster are not resolved, so no
# query ever leaves the machine. It is applied as soon as the API server serves, so
# the controller-manager's first sync overlaps the node's start; the node registers
# with the taint forestall.io/starting, lifted once kube-proxy's rules are in, so no
# pod runs before a Service IP leads somewhere.
sed -e "s|@COREDNS_IMAGE@|$(cat "$NODE_ASSETS/images/coredns.tar.tag")|" \
  -e "s|@DNS_SERVICE_IP@|$DNS_SERVICE_IP|" "$node_here/coredns.yaml" | kubectl apply -f - >/dev/null

start kubelet "$NODE_ASSETS/kubelet" --config="$NODE_DIR/kubelet/config.yaml" \
  --kubeconfig="$NODE_DIR/kubelet.kubeconfig" --root-dir="$NODE_DIR/kubelet/root" \
  --cert-dir="$NODE_DIR/kubelet/pki" --node-ip="$NODE_IP" --hostname-override="$NODE_NAME" \
  --register-with-taints=forestall.io/starting=true:NoSchedule

start kube-proxy "$NODE_ASSETS/kube-proxy" --config="$NODE_DIR/kube-proxy/config.yaml"

node_ready() {
  [ "$(kubectl get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]
}
wait_for "$timeout_s" "node $NODE_NAME Ready" node_ready
# kube-router, the NetworkPolicy firewall only (no routing, service proxy or BGP),
# exits when it cannot find its Node object, so it starts once kubelet registered it.
start kube-router "$NODE_ASSETS/kube-router" --kubeconfig="$NODE_DIR/kube-router.kubeconfig" \
  --hostname-override="$NODE_NAME" --run-firewall=true --run-router=false \
  --run-service-proxy=false --run-loadbalancer=false --enable-cni=false \
  --service-cluster-ip-range="$SERVICE_CIDR" --health-port=20244 --metrics-port=0

service_rules() { iptables -t nat -S KUBE-SERVICES | grep -q -- "-d $API_SERVICE_IP/32"; }
wait_for "$timeout_s" "kube-proxy's rules for the kubernetes Service" service_rules
wait_for "$timeout_s" "kube-proxy /healthz" curl -fsS http://127.0.0.1:10256/healthz
wait_for "$timeout_s" "kube-router /healthz" curl -fsS http://127.0.0.1:20244/healthz
kubectl taint node "$NODE_NAME" forestall.io/starting- >/dev/null
node_ms=$(($(now_ms) - t))
t=$(now_ms)

coredns_ready() {
  [ "$(kubectl -n kube-system get deploy coredns -o jsonpath='{.status.readyReplicas}')" = 1 ]
}
wait_for "$timeout_s" "CoreDNS Ready" coredns_ready
dns_ms=$(($(now_ms) - t))

log "node $NODE_NAME up in $(($(now_ms) - began)) ms: build checks $((built - began)) ms;" \
  "from etcd's start: containerd with images $images_ms ms, API server ready" \
  "$control_plane_ms ms, node Ready with Service rules and firewall $node_ms ms;" \
  "then CoreDNS Ready in $dns_ms ms"
trap - EXIT
echo "$NODE_DIR/admin.kubeconfig"
