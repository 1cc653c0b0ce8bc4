# Shared by the compose tests: a state root of their own, cleanup that runs
# even when a test fails, check/wait helpers and a count of what is left.
# Sourced with BERTH and SRC set.
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: the compose tests need root (namespaces, bridges, nftables)"
	exit 77
fi
T=$(mktemp -d /tmp/berth-compose-test.XXXXXX)
export BERTH_ROOT=$T/root BERTH_RUN=$T/run
fails=0
links_before=$(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep '^berth' | sort)
berthd_pid() { cat "$BERTH_RUN/berthd.pid" 2>/dev/null; }
our_pids() {
	for p in /proc/[0-9]*; do
		grep -qs -- "$T/" "$p/cmdline" && basename "$p"
	done
}
our_links() {
	ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep '^berth' | sort |
		comm -23 - <(echo "$links_before")
}
cleanup() {
	for id in $("$BERTH" ps -aq --no-trunc 2>/dev/null); do "$BERTH" rm -f "$id" >/dev/null 2>&1; done
	"$BERTH" network prune >/dev/null 2>&1
	[ -n "$(berthd_pid)" ] && kill -9 "$(berthd_pid)" 2>/dev/null
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
	if eval "$2"; then echo "ok   $1"; else
		echo "FAIL $1"
		fails=$((fails + 1))
		[ -n "${out:-}" ] && echo "$out" | head -8 | sed 's/^/     /'
	fi
}
B() { "$BERTH" "$@"; }
C() { "$BERTH" compose -f "$T/p/compose.yaml" "$@"; }
wait_for() { # condition, tries of 0.1 s
	local i
	for i in $(seq "${2:-100}"); do eval "$1" && return 0; sleep 0.1; done
	return 1
}
cgroups_now() { find /sys/fs/cgroup -maxdepth 3 -type d -path '*/berth/*' 2>/dev/null | sort; }
cgroups_before=$(cgroups_now)
# what a project leaves: containers, networks, volumes, veths, port rules, cgroups, mounts
# (overlays, network namespaces; not berthd's tmpfs for its monitors and runtime state) and
# containers' state files
leftovers() {
	local n=0
	n=$((n + $(cgroups_now | comm -23 - <(echo "$cgroups_before") | wc -l)))
	n=$((n + $(findmnt -rn -o TARGET | grep "^$T/" |
		grep -vxcF -e "$BERTH_RUN/containers" -e "$BERTH_RUN/runtime")))
	n=$((n + $(ls "$BERTH_ROOT/containers" "$BERTH_RUN/containers" 2>/dev/null | grep -c '^[0-9a-f]\{64\}')))
	n=$((n + $(B ps -aq | wc -l)))
	n=$((n + $(B network ls -q | wc -l) - 3))
	n=$((n + $(B volume ls -q | wc -l)))
	n=$((n + $(our_links | grep -cv '^berth0$')))
	n=$((n + $(nft list chain ip berth ports 2>/dev/null | grep -c dnat)))
	echo $n
}

sh "$SRC/tests/images/build.sh" "$T/img" >/dev/null || { echo "FAIL building the test images"; exit 1; }
B load -i "$T/img/busybox-docker.tar" >/dev/null
