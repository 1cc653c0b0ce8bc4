#!/bin/bash
# N up/down cycles of a 5-service project (a network, a volume, a health
# check, a published port): afterwards nothing is left — containers,
# networks, volumes, veths, port rules, cgroups, mounts, state files — and
# berthd holds no more file descriptors and no more memory than after the
# first cycle.  As root.  Usage: cycles.sh BERTH SOURCE_DIR [N]
set -u
BERTH=$(realpath "$1")
SRC=$2
N=${3:-200}
. "$SRC/tests/compose/lib.sh"
mkdir -p "$T/p"
cat >"$T/p/compose.yaml" <<'EOF'
name: cyc
services:
  db:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]
    healthcheck: {test: ["CMD", "true"], interval: 1s, start_period: 10s, start_interval: 100ms}
    volumes: [data:/data]
  api:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]
    depends_on: {db: {condition: service_healthy}}
  web:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; httpd -f -p 80 & wait"]
    ports: ["127.0.0.1:18781:80"]
    depends_on: [api]
  worker:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]
    depends_on: [db]
  cron:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]
volumes:
  data: {}
EOF
fds() { ls "/proc/$(berthd_pid)/fd" | wc -l; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$(berthd_pid)/status"; }
bad=0
for i in $(seq "$N"); do
	if ! C up -d >"$T/up.out" 2>&1 || [ "$(C ps -q | wc -l)" != 5 ]; then
		echo "cycle $i: up failed"; cat "$T/up.out"; bad=$((bad + 1)); break
	fi
	if ! C down -v >"$T/down.out" 2>&1; then
		echo "cycle $i: down failed"; cat "$T/down.out"; bad=$((bad + 1)); break
	fi
	if [ "$i" = 1 ]; then fd1=$(fds); rss1=$(rss); fi
done
check "$N up/down cycles all worked" "[ $bad = 0 ]"
check "... and left nothing" "[ \"\$(leftovers)\" = 0 ]"
fdN=$(fds)
rssN=$(rss)
echo "     berthd after cycle 1: $fd1 fds, $rss1 KiB; after $N: $fdN fds, $rssN KiB"
check "berthd holds no more file descriptors than after the first cycle" "[ $fdN -le $fd1 ]"
if grep -q asan "/proc/$(berthd_pid)/maps"; then
	# AddressSanitizer keeps freed memory in quarantine (256 MiB): RSS says nothing there
	echo "skip berthd's memory growth: an ASan build (its LeakSanitizer checks leaks instead)"
else
	# a leak of even 1 KiB a cycle would show as 200 KiB; allocator noise stays well under 1 MiB
	check "berthd's memory did not grow with the cycles" "[ $((rssN - rss1)) -lt 1024 ]"
fi
if [ $fails -gt 0 ]; then
	echo "$fails compose cycle test(s) failed"
	tail -30 "$BERTH_RUN/berthd.log"
	exit 1
fi
echo "all compose cycle tests passed"
