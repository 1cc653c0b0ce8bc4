#!/bin/bash
# Network benchmark, berth against podman (Debian's, netavark + aardvark-dns,
# with runc), as root, in state roots of their own:
#   1. what a bridge network adds to `run --rm busybox true`: the median with
#      the default bridge minus the median with --network none (N runs each);
#   2. TCP throughput from the host to a container through a published port
#      (127.0.0.1:PORT) against straight to the container's address (iperf3,
#      the host's binary bound into the busybox container);
#   3. DNS answer latency for a container name, from a container on a
#      user-defined network (tests/net/nettool dns-time: median and p99).
# Traffic stays on this host: loopback and the containers' own addresses.
# Usage: bench/network.sh [N]   (default 20; podman is skipped when not installed)
set -eu
N=${1:-20}
SECS=${IPERF_SECONDS:-3}
R=${IPERF_RUNS:-5}
cd "$(dirname "$0")/.."
BERTH=$PWD/build/bin/berth
NETTOOL=$PWD/build/bin/nettool
[ -x "$BERTH" ] && [ -x "$NETTOOL" ] || { echo "build first: sh scripts/build.sh" >&2; exit 1; }
command -v iperf3 >/dev/null || { echo "iperf3 is needed (scripts/deps.sh installs it)" >&2; exit 1; }
T=$(mktemp -d /tmp/berth-bench-network.XXXXXX)
export BERTH_ROOT=$T/root BERTH_RUN=$T/run
PODMAN="podman --root $T/podman --runroot $T/podman-run --cgroup-manager cgroupfs"
export CONTAINERS_CONF=$PWD/bench/podman-containers.conf
links_before=$(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep '^berth' | sort || true)
cleanup() {
	for id in $("$BERTH" ps -aq 2>/dev/null); do "$BERTH" rm -f "$id" >/dev/null 2>&1; done
	"$BERTH" network prune >/dev/null 2>&1 || true
	[ -s "$BERTH_RUN/berthd.pid" ] && kill "$(cat "$BERTH_RUN/berthd.pid")" 2>/dev/null
	if command -v podman >/dev/null; then
		$PODMAN rm -af >/dev/null 2>&1 || true
		$PODMAN network rm -f benchnet >/dev/null 2>&1 || true
		$PODMAN system reset -f >/dev/null 2>&1 || true
	fi
	sleep 0.2
	for l in $(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep '^berth' | sort |
		comm -23 - <(echo "$links_before")); do ip link del "$l" 2>/dev/null; done
	[ -z "$links_before" ] && nft delete table ip berth 2>/dev/null
	for m in $(findmnt -rn -o TARGET | grep "^$T/" | sort -r); do umount -l "$m"; done
	rm -rf "$T"
}
trap cleanup EXIT
sh tests/images/build.sh "$T/img" >/dev/null
"$BERTH" load -i "$T/img/busybox-docker.tar" >/dev/null
have_podman=false
if command -v podman >/dev/null; then
	$PODMAN load -i "$T/img/busybox-docker.tar" >/dev/null 2>&1 && have_podman=true
fi

once() { # label command... -> one duration in microseconds appended to $T/label
	local label=$1 s e
	shift
	s=$(date +%s%N)
	"$@" >/dev/null 2>&1 || echo "FAILED: $*" >&2
	e=$(date +%s%N)
	echo $(((e - s) / 1000)) >>"$T/$label"
}
# the two variants alternate, so that the machine's drift (large here) hits both alike
pair() { # engine-command... : N runs with --network none and N with the default bridge
	local i
	for i in 1 2 3; do "$@" --network none busybox true >/dev/null 2>&1 || true; done
	for i in $(seq "$N"); do
		once "$label-none" "$@" --network none busybox true
		once "$label-bridge" "$@" busybox true
	done
}
median() { sort -n "$T/$1" | awk '{a[NR]=$1} END {m = NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.1f", m / 1000}'; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", a - b}'; }

# ---- 1. the cost of a bridge network per container
"$BERTH" ps >/dev/null # berthd is up before the clock starts, as dockerd would be
label=b pair "$BERTH" run --rm
bn=$(median b-none) bb=$(median b-bridge)
pn=nan pb=nan
if $have_podman; then
	label=p pair $PODMAN run --rm
	pn=$(median p-none) pb=$(median p-bridge)
fi
printf '%-44s %10s %10s\n' "run --rm busybox true (median of $N, ms)" berth podman
printf '%-44s %10s %10s\n' "  --network none" "$bn" "$pn"
printf '%-44s %10s %10s\n' "  default bridge network" "$bb" "$pb"
printf '%-44s %10s %10s\n' "  what the network adds" "$(minus "$bb" "$bn")" \
	"$([ "$pb" = nan ] && echo n/a || minus "$pb" "$pn")"

# ---- 2. throughput through a published port
LIBS="-v /usr/bin/iperf3:/usr/bin/iperf3:ro -v /usr/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:ro"
LIBS="$LIBS -v /usr/lib/x86_64-linux-gnu:/lib/x86_64-linux-gnu:ro -v /lib64:/lib64:ro"
gbps1() { # iperf3 client args... -> Gbit/s received
	iperf3 -J -t "$SECS" "$@" 2>/dev/null |
		awk -F':' '/"sum_received"/ {f=1} f && /"bits_per_second"/ {gsub(/[ \t,]/, "", $2); printf "%.2f", $2 / 1e9; exit}'
}
# R runs of each, alternating (throughput here swings by 2x from run to run): the medians
gbps() { # direct-address published-port -> "direct published" (medians, Gbit/s)
	local i
	: >"$T/g-direct"
	: >"$T/g-port"
	for i in $(seq "$R"); do
		gbps1 -c "$1" >>"$T/g-direct" && echo >>"$T/g-direct"
		gbps1 -c 127.0.0.1 -p "$2" >>"$T/g-port" && echo >>"$T/g-port"
	done
	for f in g-direct g-port; do
		grep . "$T/$f" | sort -n | awk '{a[NR]=$1} END {printf "%s ", NR ? a[int((NR+1)/2)] : "n/a"}'
	done
}
"$BERTH" run -d --name iperf -p 127.0.0.1:15201:5201 $LIBS busybox iperf3 -s >/dev/null
sleep 1
bip=$("$BERTH" inspect -f '{{.NetworkSettings.IPAddress}}' iperf)
read -r b_direct b_port <<<"$(gbps "$bip" 15201)"
p_direct=n/a p_port=n/a
if $have_podman; then
	$PODMAN run -d --name iperf -p 127.0.0.1:15202:5201 $LIBS busybox iperf3 -s >/dev/null 2>&1 || true
	sleep 1
	pip=$($PODMAN inspect -f '{{.NetworkSettings.IPAddress}}' iperf 2>/dev/null || true)
	[ -n "$pip" ] && read -r p_direct p_port <<<"$(gbps "$pip" 15202)"
	$PODMAN rm -f iperf >/dev/null 2>&1 || true
fi
pct() { awk -v a="$1" -v b="$2" 'BEGIN {printf (a == "" || b == "" || a == "n/a" ? "n/a" : "%.0f%%"), 100 * a / b}'; }
echo
printf '%-44s %10s %10s\n' "TCP host -> container (Gbit/s, median of $R)" berth podman
printf '%-44s %10s %10s\n' "  straight to the container's address" "$b_direct" "$p_direct"
printf '%-44s %10s %10s\n' "  through 127.0.0.1:published port" "$b_port" "$p_port"
printf '%-44s %10s %10s\n' "  published / direct" "$(pct "$b_port" "$b_direct")" "$(pct "$p_port" "$p_direct")"
"$BERTH" rm -f iperf >/dev/null

# ---- 3. DNS answers
"$BERTH" network create benchnet >/dev/null
"$BERTH" run -d --name target --network benchnet busybox sleep 1000 >/dev/null
gw=$("$BERTH" network inspect benchnet -f '{{(index .IPAM.Config 0).Gateway}}')
b_dns=$("$BERTH" run --rm --network benchnet -v "$NETTOOL:/nettool:ro" busybox /nettool dns-time "$gw" target 2000)
p_dns=n/a
if $have_podman; then
	$PODMAN network create benchnet >/dev/null 2>&1 || true
	$PODMAN run -d --name target --network benchnet busybox sleep 1000 >/dev/null 2>&1 || true
	pgw=$($PODMAN network inspect benchnet -f '{{range .Subnets}}{{.Gateway}}{{end}}' 2>/dev/null || true)
	[ -n "$pgw" ] && p_dns=$($PODMAN run --rm --network benchnet -v "$NETTOOL:/nettool:ro" busybox \
		/nettool dns-time "$pgw" target 2000 2>&1 | tail -1)
fi
echo
echo "DNS: the A record of a container name from a container on the same network"
echo "  berth (berthd on the gateway):  $b_dns"
echo "  podman (aardvark-dns):          $p_dns"
