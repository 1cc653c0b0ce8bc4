#!/bin/bash
# Integration tests of berth's networks, as root, with real bridges, veths,
# nftables rules and containers, in a state root of their own.  Traffic goes
# only to loopback, to the host's own address and to the containers' own
# addresses; the upstream resolver is a dnsmasq on 127.0.0.153.
# Usage: network.sh BERTH SOURCE_DIR NETTOOL
set -u
BERTH=$(realpath "$1")
SRC=$2
NETTOOL=$(realpath "$3")
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: the network tests need root (bridges, veths, nftables)"
	exit 77
fi
for t in ip nft dnsmasq; do
	command -v $t >/dev/null || { echo "FAIL: $t is missing (scripts/deps.sh installs it)"; exit 1; }
done
T=$(mktemp -d /tmp/berth-net-test.XXXXXX)
export BERTH_ROOT=$T/root BERTH_RUN=$T/run
# the host's resolvers as berthd sees them: a local dnsmasq, never the outside world
export BERTHD_RESOLV_CONF=$T/resolv.conf
printf 'nameserver 127.0.0.153\nsearch example.test\n' >"$BERTHD_RESOLV_CONF"
fails=0
# berth's links that were there before (another berthd's): never touched
links_before=$(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep '^berth' | sort)

berthd_pid() { cat "$BERTH_RUN/berthd.pid" 2>/dev/null; }
our_pids() {
	for p in /proc/[0-9]*; do
		grep -qs -- "$T/" "$p/cmdline" && basename "$p"
	done
}
# berth's links made by this test
our_links() {
	ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep '^berth' | sort |
		comm -23 - <(echo "$links_before")
}
cleanup() {
	for id in $("$BERTH" ps -aq --no-trunc 2>/dev/null); do "$BERTH" rm -f "$id" >/dev/null 2>&1; done
	"$BERTH" network prune >/dev/null 2>&1
	[ -n "$(berthd_pid)" ] && kill -9 "$(berthd_pid)" 2>/dev/null
	[ -n "${DNSMASQ:-}" ] && kill "$DNSMASQ" 2>/dev/null
	for p in $(our_pids); do kill -9 "$p" 2>/dev/null; done
	for l in $(our_links); do ip link del "$l" 2>/dev/null; done
	[ -z "$links_before" ] && nft delete table ip berth 2>/dev/null
	for m in $(findmnt -rn -o TARGET | grep "^$T/" | sort -r); do umount -l "$m"; done
	for d in /sys/fs/cgroup/berth /sys/fs/cgroup/*/berth; do
		for id in $(ls "$T/root/containers" 2>/dev/null); do rmdir "$d/$id" 2>/dev/null; done
	done
	rm -rf "$T"
}
trap cleanup EXIT
check() { # name, condition
	if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); [ -n "${out:-}" ] && echo "     last output: $out" | head -5; fi
}
B() { "$BERTH" "$@"; }
wait_for() { # condition, tries of 0.1 s
	local i
	for i in $(seq "${2:-100}"); do eval "$1" && return 0; sleep 0.1; done
	return 1
}
# What networking leaves behind once every container is gone and only the default
# network is left: veths, bridges other than the default one, port rules, leases
# (addresses in records), processes of this test's root.
leftovers() {
	local n=0
	n=$((n + $(our_links | grep -cv '^berth0$')))
	n=$((n + $(nft list chain ip berth ports 2>/dev/null | grep -c dnat)))
	n=$((n + $(cat "$BERTH_ROOT"/containers/*/container.json 2>/dev/null |
		grep -o '"IPAddress":"[0-9][^"]*"' | wc -l)))
	n=$((n + $(B network inspect bridge -f '{{json .Containers}}' | grep -c '"Name"')))
	echo $n
}
ip_of() { # container network
	B inspect -f "{{.NetworkSettings.Networks.$2.IPAddress}}" "$1"
}

sh "$SRC/tests/images/build.sh" "$T/img" >/dev/null || { echo "FAIL building the test images"; exit 1; }
B load -i "$T/img/busybox-docker.tar" >/dev/null
dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces \
	--listen-address=127.0.0.153 --port=53 --pid-file= \
	--address=/outside.example.test/10.250.0.7 --address=/nowhere.example.test/ >"$T/dnsmasq.log" 2>&1 &
DNSMASQ=$!
NT="-v $NETTOOL:/nettool:ro"
# a default bridge left by another state root, with its address: berthd takes it over and
# leaves only its own gateway's address on it
if ! ip link show berth0 >/dev/null 2>&1; then
	ip link add berth0 type bridge && ip addr add 10.254.1.1/24 dev berth0
fi

# ---- the default network
check "berthd makes the networks bridge, host and none" \
	"[ \"\$(B network ls --format '{{.Name}}' | sort | tr '\n' ' ')\" = 'bridge host none ' ]"
check "the default network is a bridge named berth0 with the gateway address, and only it" \
	"ip -o -4 addr show berth0 | grep -q \"\$(B network inspect bridge -f '{{(index .IPAM.Config 0).Gateway}}')/\" &&
	 [ \$(ip -o -4 addr show berth0 | wc -l) = 1 ]"
out=$(B run --rm busybox sh -c 'ip -o -4 addr show eth0; ip route' 2>&1)
check "run uses the default network: eth0 with an address and the default route" \
	"echo \"\$out\" | grep -q 'eth0 *inet [0-9]' && echo \"\$out\" | grep -q '^default via'"
out=$(B run --rm --network none busybox ip -o link 2>&1)
check "--network none: only lo, and it is up" \
	"[ \$(echo \"\$out\" | wc -l) = 1 ] && echo \"\$out\" | grep -q 'lo:.*UP'"
out=$(B run --rm --network host busybox ip -o link 2>&1)
check "--network host: the host's interfaces" "echo \"\$out\" | grep -q berth0"
check "the default network is predefined and cannot be removed" \
	"! B network rm bridge 2>&1 >/dev/null | grep -vq 'pre-defined'"

# ---- a user-defined network: names, aliases, static addresses
B network create -l purpose=test appnet >/dev/null
check "network create makes a bridge named berth... with a subnet from the pool" \
	"ip link show \"\$(B network inspect appnet -f '{{index .Options \"com.docker.network.bridge.name\"}}')\" >/dev/null 2>&1 &&
	 B network inspect appnet -f '{{(index .IPAM.Config 0).Subnet}}' | grep -Eq '^(172|192\.168)\.'"
# a subnet the host routes is skipped: the one the pool gives next is taken by a route first
B network create probe >/dev/null
NEXT=$(B network inspect probe -f '{{(index .IPAM.Config 0).Subnet}}')
B network rm probe >/dev/null
# (a veth pair: this kernel has no dummy links; berthd's sweep leaves veths not named berthv*)
ip link add berthtr0 type veth peer name berthtr1 && ip addr add "${NEXT%.0/*}.1/${NEXT#*/}" dev berthtr0 &&
	ip link set berthtr1 up && ip link set berthtr0 up
B network create probe >/dev/null
check "a subnet already routed on the host is skipped ($NEXT)" \
	"[ \"\$(B network inspect probe -f '{{(index .IPAM.Config 0).Subnet}}')\" != '$NEXT' ]"
out=$(B network create --subnet "$NEXT" clash 2>&1)
check "--subnet that overlaps a route is refused, naming the overlap" \
	"echo \"\$out\" | grep -q 'overlaps'"
B network rm probe >/dev/null
ip link del berthtr0
check "network ls filters by label" \
	"[ \"\$(B network ls -q -f label=purpose=test | wc -l)\" = 1 ]"
B run -d --name web --network appnet --network-alias www $NT busybox \
	sh -c 'mkdir -p /www && echo hello-from-web >/www/index.html && httpd -f -p 80 -h /www' >/dev/null
B run -d --name db --network appnet busybox sh -c 'nc -ll -p 5432 -e echo pong' >/dev/null
out=$(B run --rm --network appnet busybox sh -c 'timeout 5 wget -qO- http://web/; timeout 5 wget -qO- http://www/; ping -c1 -W2 db >/dev/null && echo ping-ok; echo | timeout 5 nc db 5432' 2>&1)
check "two containers on one network reach each other by name (wget, ping, nc)" \
	"[ \"\$(echo \"\$out\" | tr '\n' ' ')\" = 'hello-from-web hello-from-web ping-ok pong ' ]"
check "a container's own name is in its /etc/hosts and /etc/hostname" \
	"B exec web cat /etc/hostname | grep -qx \"\$(B inspect -f '{{.Config.Hostname}}' web)\" &&
	 B exec web cat /etc/hosts | grep -q \"^\$(ip_of web appnet)\""
check "resolv.conf points at berthd's DNS on the gateway, with ndots:0 and the host's search" \
	"B exec web cat /etc/resolv.conf | grep -qx \"nameserver \$(B network inspect appnet -f '{{(index .IPAM.Config 0).Gateway}}')\" &&
	 B exec web cat /etc/resolv.conf | grep -q 'ndots:0' && B exec web cat /etc/resolv.conf | grep -q 'search example.test'"
out=$(B exec web nslookup outside.example.test 2>&1)
check "other names are forwarded to the host's resolvers (a dnsmasq on loopback)" \
	"echo \"\$out\" | grep -q 'Address: 10.250.0.7'"
out=$(B exec web nslookup nowhere.example.test 2>&1)
check "a name nobody knows is NXDOMAIN from upstream" "echo \"\$out\" | grep -q NXDOMAIN"
out=$(B exec web sh -c 'nslookup -type=aaaa db' 2>&1)
check "AAAA of a container name: no error, no address (IPv4 only)" \
	"! echo \"\$out\" | grep -q NXDOMAIN && ! echo \"\$out\" | grep -q 'Address: .*:'"
GW=$(B network inspect appnet -f '{{(index .IPAM.Config 0).Gateway}}')
check "DNS answers over TCP too" \
	"[ \"\$(B exec web /nettool dns-tcp $GW db)\" = \"\$(ip_of db appnet)\" ]"
B run -d --name fixed --network appnet --ip 10.254.250.9 busybox true >/dev/null 2>&1
check "--ip outside the subnet is refused" "! B inspect fixed >/dev/null 2>&1"
SUB=$(B network inspect appnet -f '{{(index .IPAM.Config 0).Subnet}}')
STATIC=${SUB%.0/*}.200
B run -d --name fixed --network appnet --ip "$STATIC" busybox sleep 1000 >/dev/null
check "--ip gives the container that address" "[ \"\$(ip_of fixed appnet)\" = $STATIC ]"
out=$(B run -d --name fixed2 --network appnet --ip "$STATIC" busybox sleep 1000 2>&1)
check "the same --ip twice is refused, naming the holder" "echo \"\$out\" | grep -q 'used by container fixed'"
B rm -f fixed2 >/dev/null 2>&1
check "network rm of a network in use is refused, naming the containers" \
	"B network rm appnet 2>&1 | grep -q 'active endpoints.*web'"

# ---- several networks, connect, disconnect
B network create backnet >/dev/null
B run -d --name multi --network appnet --network backnet busybox sleep 1000 >/dev/null
out=$(B exec multi ip -o -4 addr)
check "several networks: eth0 on the first, eth1 on the second" \
	"echo \"\$out\" | grep -q \"eth0 *inet \$(ip_of multi appnet)/\" && echo \"\$out\" | grep -q \"eth1 *inet \$(ip_of multi backnet)/\""
B network connect --alias extra backnet web
check "connect gives a running container a new interface and address on the network" \
	"B exec web ip -o -4 addr | grep -q \"eth1 *inet \$(ip_of web backnet)/\""
check "... and its alias resolves there" \
	"B exec multi nslookup extra 2>&1 | grep -q \"Address: \$(ip_of web backnet)\""
B network disconnect backnet web
check "disconnect takes the interface away" "! B exec web ip -o link | grep -q eth1"
check "... and the name is gone from that network's DNS" \
	"! B exec multi nslookup extra 2>&1 | grep -q 'Address: [0-9]'"
out=$(B run --rm --network container:web busybox ip -o -4 addr show eth0 2>&1)
check "--network container:NAME shares the other container's interfaces" \
	"echo \"\$out\" | grep -q \"\$(ip_of web appnet)/\""
out=$(B run --rm --network appnet --add-host db.local:10.1.2.3 --dns-search corp.test busybox sh -c 'cat /etc/hosts /etc/resolv.conf' 2>&1)
check "--add-host and --dns-search are written" \
	"echo \"\$out\" | grep -q '^10.1.2.3	db.local' && echo \"\$out\" | grep -q 'search corp.test'"
out=$(B run --rm --network appnet --dns 127.0.0.153 busybox nslookup outside.example.test 2>&1)
check "--dns on a user network: berthd forwards to that server" \
	"echo \"\$out\" | grep -q 'Address: 10.250.0.7'"

# ---- isolation
B network create isolated >/dev/null
B run -d --name far --network isolated busybox sleep 1000 >/dev/null
out=$(B exec web nslookup far 2>&1)
check "a name on another network is NXDOMAIN, not forwarded" "echo \"\$out\" | grep -q NXDOMAIN"
check "containers on different networks cannot reach each other by address" \
	"! B exec web ping -c1 -W1 \"\$(ip_of far isolated)\" >/dev/null 2>&1"
check "... and the other way round" \
	"! B exec far ping -c1 -W1 \"\$(ip_of web appnet)\" >/dev/null 2>&1"
check "the isolation rule is in berth's table" \
	"nft list chain ip berth forward | grep -q \"iifname \\\"\$(B network inspect isolated -f '{{index .Options \"com.docker.network.bridge.name\"}}')\\\" oifname @bridges\""
B network create --internal intnet >/dev/null
B run -d --name inner --network intnet busybox sleep 1000 >/dev/null
check "an internal network has no default route" "! B exec inner ip route | grep -q default"
IBR=$(B network inspect intnet -f '{{index .Options "com.docker.network.bridge.name"}}')
check "an internal network has drop rules both ways and no masquerade" \
	"nft list chain ip berth forward | grep -q \"iifname \\\"$IBR\\\" oifname != \\\"$IBR\\\" drop\" &&
	 ! nft list chain ip berth postrouting | grep -q \"oifname != \\\"$IBR\\\" masquerade\""
ASUB=$(B network inspect appnet -f '{{(index .IPAM.Config 0).Subnet}}')
check "other networks masquerade outbound traffic (the rule; no traffic is sent out)" \
	"nft list chain ip berth postrouting | grep -q \"ip saddr $ASUB oifname != .* masquerade\""

# ---- published ports
HOSTIP=$(ip -o -4 addr show scope global | grep -v ' berth' | awk '{print $4}' | head -1 | cut -d/ -f1)
B run -d --name pub --network appnet -p 18080:80 -p 127.0.0.1::80 -p 18081:18081/udp $NT busybox \
	sh -c 'mkdir -p /www && echo published >/www/index.html && httpd -p 80 -h /www && exec /nettool udp-echo 18081' >/dev/null
wait_for "B exec pub sh -c 'netstat -ln | grep -q :80'" 50
check "a published TCP port answers at 127.0.0.1" \
	"[ \"\$(timeout 5 busybox wget -qO- http://127.0.0.1:18080/)\" = published ]"
check "... and at the host's own address ($HOSTIP)" \
	"[ -n '$HOSTIP' ] && [ \"\$(timeout 5 busybox wget -qO- http://$HOSTIP:18080/)\" = published ]"
RP=$(B port pub 80/tcp | grep '^127.0.0.1:' | cut -d: -f2)
check "a random host port on 127.0.0.1 (berth port shows it)" \
	"[ -n '$RP' ] && [ \"\$(timeout 5 busybox wget -qO- http://127.0.0.1:$RP/)\" = published ]"
check "a published UDP port answers" \
	"[ \"\$($NETTOOL udp-send 127.0.0.1 18081 ping-udp)\" = echo:ping-udp ]"
check "berth port lists every mapping" "[ \"\$(B port pub | wc -l)\" = 3 ]"
check "ps shows the published ports and the networks as Docker does" \
	"B ps --filter name=pub --format '{{.Ports}}' | grep -q '0.0.0.0:18080->80/tcp' &&
	 B ps --filter name=pub --format '{{.Networks}}' | grep -qx appnet"
B run -d --name ranged --network appnet -p 127.0.0.1:18090-18092:7000-7002 busybox sleep 1000 >/dev/null
check "a range of ports publishes each port" \
	"[ \"\$(B port ranged | sort | tr '\n' ' ')\" = '7000/tcp -> 127.0.0.1:18090 7001/tcp -> 127.0.0.1:18091 7002/tcp -> 127.0.0.1:18092 ' ]"
B rm -f ranged >/dev/null
out=$(B run -d --name taken --network appnet -p 18080:80 busybox true 2>&1)
check "a port another container holds is refused before anything is made, naming it" \
	"echo \"\$out\" | grep -q 'allocated by container pub' && ! B inspect taken >/dev/null 2>&1"
busybox nc -l -p 18099 >/dev/null 2>&1 &
HOSTNC=$!
wait_for "grep -q ':46A3 .* 0A ' /proc/net/tcp" 30
out=$(B run -d --name taken --network appnet -p 18099:80 busybox true 2>&1)
check "a port a host process holds is refused, naming the process" \
	"echo \"\$out\" | grep -q \"in use by process .*(pid $HOSTNC)\" && ! B inspect taken >/dev/null 2>&1"
kill $HOSTNC 2>/dev/null
B run -d --name pall --network appnet --expose 7000 -P busybox sleep 1000 >/dev/null
check "-P publishes the exposed ports on random host ports" \
	"B port pall 7000 | grep -q '^0.0.0.0:[0-9]'"
B rm -f pub pall >/dev/null
check "removing the containers removes their port rules" \
	"! nft list chain ip berth ports | grep -q dnat"

# ---- round robin
for i in 1 2 3; do B run -d --name "rr$i" --network appnet --network-alias pool busybox sleep 1000 >/dev/null; done
out=$(B exec web nslookup pool 2>&1)
check "an alias shared by 3 containers answers with all 3 addresses" \
	"[ \"\$(echo \"\$out\" | grep -c '^Address: [0-9]')\" = 3 ]"
out=$(B exec web sh -c 'for i in 1 2 3; do nslookup pool | grep "^Address: " | head -1; done' 2>&1)
check "... and round robin: the first address changes from answer to answer" \
	"[ \"\$(echo \"\$out\" | sort -u | wc -l)\" = 3 ]"

# ---- two projects, the same service names
for p in alpha beta; do
	B network create "${p}_default" >/dev/null
	B run -d --name "$p-db-1" --network "${p}_default" --network-alias db busybox sleep 1000 >/dev/null
	B run -d --name "$p-app-1" --network "${p}_default" --network-alias app busybox sleep 1000 >/dev/null
done
check "two projects with the same service names: each resolves its own" \
	"B exec alpha-app-1 nslookup db | grep -q \"Address: \$(ip_of alpha-db-1 alpha_default)\" &&
	 B exec beta-app-1 nslookup db | grep -q \"Address: \$(ip_of beta-db-1 beta_default)\" &&
	 [ \"\$(B exec alpha-app-1 nslookup db | grep -c '^Address: [0-9]')\" = 1 ]"
B rm -f alpha-db-1 alpha-app-1 beta-db-1 beta-app-1 >/dev/null
B network rm alpha_default beta_default >/dev/null

# ---- crash recovery
B run -d --name survivor --network appnet -p 18082:80 -p 127.0.0.1::80 busybox \
	sh -c 'echo survived >/index.html && httpd -f -p 80 -h /' >/dev/null
RANDOM_PORT=$(B port survivor 80 | grep '^127.0.0.1:' | cut -d: -f2)
B run -d --name victim --network appnet busybox sleep 1000 >/dev/null
VIP=$(ip_of victim appnet)
VPID=$(B inspect -f '{{.State.Pid}}' victim)
kill -9 "$(berthd_pid)"
# while berthd is away: the victim dies, and debris appears as a crash would leave it
kill -9 "$VPID"
ip link add berthv0dead0bee type veth peer name berthvpeer0dead 2>/dev/null
ip link add berth-stale0001 type bridge 2>/dev/null
sleep 0.3
B ps >/dev/null
check "after kill -9 of berthd: the running container still answers through its port" \
	"[ \"\$(timeout 5 busybox wget -qO- http://127.0.0.1:18082/)\" = survived ]"
check "... the one that died meanwhile has no address, and its address is free again" \
	"wait_for \"[ -z \\\"\\\$(ip_of victim appnet)\\\" ]\" 30 && ! B network inspect appnet | grep -q \"\\\"$VIP/\""
check "... leftover veths and bridges are removed" \
	"! ip link show berthv0dead0bee >/dev/null 2>&1 && ! ip link show berth-stale0001 >/dev/null 2>&1"
check "... and the port rule is there again" "nft list chain ip berth ports | grep -q 'dport 18082'"
check "... and a random host port is the same one as before" \
	"[ \"\$(B port survivor 80 | grep '^127.0.0.1:' | cut -d: -f2)\" = '$RANDOM_PORT' ] &&
	 [ \"\$(timeout 5 busybox wget -qO- http://127.0.0.1:$RANDOM_PORT/)\" = survived ]"
B rm -f survivor victim >/dev/null

# ---- a bridge deleted behind berthd's back is made again by the next start
B network create fragile >/dev/null
B run --rm --network fragile busybox true
ip link del "$(B network inspect fragile -f '{{index .Options "com.docker.network.bridge.name"}}')"
out=$(B run --rm --network fragile busybox ip -o -4 addr show eth0 2>&1)
check "a network whose bridge was deleted by hand works again at the next start" \
	"echo \"\$out\" | grep -q 'inet [0-9]'"
B network rm fragile >/dev/null

# ---- 50 containers on one network
B network create fifty >/dev/null
ids=$(for i in $(seq 50); do B run -d --network fifty --name "f$i" busybox sleep 1000 & done; wait)
check "50 containers on one network all run" \
	"[ \"\$(B ps -q --filter name=f | wc -l)\" -ge 50 ]"
check "... with 50 distinct addresses" \
	"[ \"\$(for i in \$(seq 50); do ip_of f\$i fifty; done | sort -u | grep -c .)\" = 50 ]"
check "... and the first reaches the last by name" "B exec f1 ping -c1 -W2 f50 >/dev/null"
B rm -f $(for i in $(seq 50); do echo "f$i"; done) >/dev/null
check "removing them frees every address" \
	"[ \"\$(B network inspect fifty -f '{{len .Containers}}')\" = 0 ]"

# ---- cleanup: nothing is left
for id in $(B ps -aq); do B rm -f "$id" >/dev/null; done
B network rm appnet backnet isolated intnet fifty >/dev/null
check "network prune removes unused user networks" \
	"B network create spare >/dev/null && B network prune | grep -qx spare"
check "no veth, bridge (but berth0), port rule, lease or address is left" "[ \"\$(leftovers)\" = 0 ]"

if [ $fails -gt 0 ]; then
	echo "$fails network test(s) failed"
	echo "--- berthd's log"; tail -30 "$BERTH_RUN/berthd.log"
	exit 1
fi
echo "all network tests passed"
