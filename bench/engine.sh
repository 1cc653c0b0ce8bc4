#!/bin/bash
# Engine benchmark: `run --rm busybox true` through berthd against podman
# (Debian's, with runc; both --network none, the same image loaded into
# both), medians of N runs and the ratio; then 100 `run -d` at once: the
# total time, the RSS of each container's monitor and of berthd, against
# podman's conmon.  As root, in state roots of its own.
# Usage: bench/engine.sh [N]   (default 30; podman is skipped when not installed)
set -eu
N=${1:-30}
cd "$(dirname "$0")/.."
BERTH=$PWD/build/bin/berth
[ -x "$BERTH" ] || { echo "build first: sh scripts/build.sh" >&2; exit 1; }
T=$(mktemp -d /tmp/berth-bench-engine.XXXXXX)
export BERTH_ROOT=$T/root BERTH_RUN=$T/run
PODMAN="podman --root $T/podman --runroot $T/podman-run --cgroup-manager cgroupfs"
# this machine lacks CAP_SYS_RESOURCE and has hybrid cgroups: podman needs runc and
# ulimits within the hard limits (../shared/reference/peers.md); nothing in /etc changes
export CONTAINERS_CONF=$PWD/bench/podman-containers.conf
# berthd makes the default network's bridge and berth's table at start: they go at the end
# unless they were there before (another berthd's)
links_before=$(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep '^berth' | sort || true)
cleanup() {
	for id in $("$BERTH" ps -aq 2>/dev/null); do "$BERTH" rm -f "$id" >/dev/null 2>&1; done
	[ -s "$BERTH_RUN/berthd.pid" ] && kill "$(cat "$BERTH_RUN/berthd.pid")" 2>/dev/null
	if command -v podman >/dev/null; then
		$PODMAN rm -af >/dev/null 2>&1 || true
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

times() { # label command... -> N durations in microseconds into $T/label (3 warm-up runs)
	local label=$1 i s e
	shift
	for i in 1 2 3; do "$@" >/dev/null 2>&1 || true; done
	for i in $(seq "$N"); do
		s=$(date +%s%N)
		"$@" >/dev/null 2>&1 || echo "FAILED: $*" >&2
		e=$(date +%s%N)
		echo $(((e - s) / 1000))
	done >"$T/$label"
}
median() { sort -n "$T/$1" | awk '{a[NR]=$1} END {m = NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.1f", m / 1000}'; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

"$BERTH" ps >/dev/null # berthd is up before the clock starts, as dockerd would be
times t-berth "$BERTH" run --rm --network none busybox true
b=$(median t-berth)
p=nan
if $have_podman; then
	times t-podman $PODMAN run --rm --network none busybox true
	p=$(median t-podman)
fi
printf '%-48s %10s %10s %10s\n' "run --rm --network none busybox true" "berth ms" "podman ms" "podman/berth"
printf '%-48s %10s %10s %10s\n' "(median of $N)" "$b" "$p" \
	"$(awk -v a="$b" -v b="$p" 'BEGIN {printf (b == "nan" ? "n/a" : "%.1fx"), b / a}')"

idle=$(rss_kib "$(cat "$BERTH_RUN/berthd.pid")")
s=$(date +%s%N)
for i in $(seq 100); do "$BERTH" run -d --network none --name b$i busybox sleep 1000 >/dev/null & done
wait
e=$(date +%s%N)
running=$("$BERTH" ps -q | wc -l)
total=0
n=0
for pid in $(pgrep -f "berth-monitor $BERTH_RUN/containers"); do
	total=$((total + $(rss_kib "$pid")))
	n=$((n + 1))
done
busy=$(rss_kib "$(cat "$BERTH_RUN/berthd.pid")")
s2=$(date +%s%N)
"$BERTH" rm -f $("$BERTH" ps -aq) >/dev/null
e2=$(date +%s%N)
conmon=n/a
if $have_podman; then
	$PODMAN run -d --network none --name cm busybox sleep 1000 >/dev/null 2>&1 || true
	cpid=$(pgrep -n conmon || true)
	[ -n "$cpid" ] && conmon="$(rss_kib "$cpid") KiB"
	$PODMAN rm -f cm >/dev/null 2>&1 || true
fi
echo
echo "100 x berth run -d at once: $(((e - s) / 1000000)) ms in all, $running running"
echo "  monitor RSS: $((n ? total / n : 0)) KiB each (mean of $n); podman's conmon: $conmon"
echo "  berthd RSS: $idle KiB idle, $busy KiB with 100 containers"
echo "  rm -f of the 100: $(((e2 - s2) / 1000000)) ms"
