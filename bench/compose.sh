#!/bin/bash
# Compose benchmark: the same 10-service project (dependency chains, one
# health-gated edge, a user network, a published port) through berth and,
# when installed, podman-compose (Debian's, on podman with runc through
# bench/podman-containers.conf), as root, in state roots of their own.
# Median of N cycles of: `up -d` from nothing, a second `up -d` with nothing
# changed, `up -d` with the worker scaled to 20, `down`. berthd runs before
# the clock starts, as dockerd would. Also: how long after its dependency
# turned healthy a health-gated service was started (berth's events).
# docker-compose is not measured here (Debian's docker.io would need its
# daemon set up on this machine); ../shared/reference/peers.md has its figures.
# Usage: bench/compose.sh [N]   (default 5; BERTH_ONLY=1: no peers)
set -eu
N=${1:-5}
cd "$(dirname "$0")/.."
BERTH=$PWD/build/bin/berth
[ -x "$BERTH" ] || { echo "build first: sh scripts/build.sh" >&2; exit 1; }
T=$(mktemp -d /tmp/berth-bench-compose.XXXXXX)
export BERTH_ROOT=$T/root BERTH_RUN=$T/run
export CONTAINERS_CONF=$PWD/bench/podman-containers.conf
PODMAN_ARGS="--root $T/podman --runroot $T/podman-run --cgroup-manager cgroupfs"
links_before=$(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep '^berth' | sort || true)
cleanup() {
	"$BERTH" compose -f "$T/compose.yaml" down -v >/dev/null 2>&1 || true
	for id in $("$BERTH" ps -aq 2>/dev/null); do "$BERTH" rm -f "$id" >/dev/null 2>&1; done
	"$BERTH" network prune >/dev/null 2>&1 || true
	[ -s "$BERTH_RUN/berthd.pid" ] && kill "$(cat "$BERTH_RUN/berthd.pid")" 2>/dev/null
	if command -v podman-compose >/dev/null; then
		podman $PODMAN_ARGS rm -af >/dev/null 2>&1 || true
		podman $PODMAN_ARGS system reset -f >/dev/null 2>&1 || true
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
cat >"$T/compose.yaml" <<'EOF'
name: bench
x-svc: &svc
  image: busybox
  command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]
  networks: [app]
services:
  db:
    <<: *svc
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
      start_period: 10s
      start_interval: 100ms
  cache: *svc
  search: *svc
  api:
    <<: *svc
    depends_on: {db: {condition: service_healthy}, cache: {condition: service_started}}
  auth:
    <<: *svc
    depends_on: [db]
  worker:
    <<: *svc
    depends_on: [api]
    deploy:
      replicas: ${WORKERS:-1}
  scheduler:
    <<: *svc
    depends_on: [worker]
  mail:
    <<: *svc
    depends_on: [auth]
  metrics:
    <<: *svc
    depends_on: [search]
  web:
    image: busybox
    init: true
    command: ["sh", "-c", "mkdir -p /www && echo bench >/www/index.html && exec httpd -f -p 80 -h /www"]
    ports: ["127.0.0.1:18680:80"]
    networks: [app]
    depends_on: [api, auth]
networks:
  app: {}
EOF
ms() { echo $((($2 - $1) / 1000000)); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2)}'; }
berth_up() { "$BERTH" compose -f "$T/compose.yaml" up -d; }
berth_down() { "$BERTH" compose -f "$T/compose.yaml" down; }
pc_up() { podman-compose --podman-args="$PODMAN_ARGS" -f "$T/compose.yaml" up -d; }
pc_down() { podman-compose --podman-args="$PODMAN_ARGS" -f "$T/compose.yaml" down; }
step() { # file command...
	local f=$1 s e
	shift
	s=$(date +%s%N)
	"$@" >"$T/last.log" 2>&1 || { echo "FAILED: $*" >&2; tail -3 "$T/last.log" >&2; }
	e=$(date +%s%N)
	echo "$(ms "$s" "$e")" >>"$f"
}
run_cycles() { # label up-function down-function
	local i
	for i in $(seq "$N"); do
		step "$T/$1-up" "$2"
		step "$T/$1-again" "$2"
		WORKERS=20 step "$T/$1-scale" "$2"
		step "$T/$1-down" "$3"
	done
}

"$BERTH" ps >/dev/null
# the health-gated edge: db's health_status and api's start, from berth's events
"$BERTH" events --format json >"$T/events" &
EVENTS=$!
run_cycles berth berth_up berth_down
kill $EVENTS
have_podman=false
if [ -z "${BERTH_ONLY:-}" ] && command -v podman-compose >/dev/null && podman $PODMAN_ARGS load -i "$T/img/busybox-docker.tar" >/dev/null 2>&1; then
	have_podman=true
	run_cycles podman pc_up pc_down
fi

printf '%-40s %10s %16s %10s\n' "10 services, median of $N (ms)" berth podman-compose ratio
for k in up again scale down; do
	b=$(median <"$T/berth-$k")
	p=n/a r=n/a
	if $have_podman; then
		p=$(median <"$T/podman-$k")
		r=$(awk -v a="$b" -v b="$p" 'BEGIN {printf "%.1fx", b / (a > 0 ? a : 1)}')
	fi
	case $k in
	up) l="up -d (from nothing)" ;;
	again) l="up -d again (nothing changed)" ;;
	scale) l="up -d with worker scaled to 20" ;;
	down) l="down" ;;
	esac
	printf '%-40s %10s %16s %10s\n' "$l" "$b" "$p" "$r"
done
# per cycle: db's "health_status: healthy" -> the next "start" of an api container
awk '
	/"Action":"health_status: healthy"/ && /"com.docker.compose.service":"db"/ {
		match($0, /"timeNano":[0-9]+/); h = substr($0, RSTART + 11, RLENGTH - 11) }
	/"Action":"start"/ && /"com.docker.compose.service":"api"/ && h {
		match($0, /"timeNano":[0-9]+/); s = substr($0, RSTART + 11, RLENGTH - 11)
		printf "%.1f\n", (s - h) / 1e6; h = 0 }' "$T/events" | sort -n >"$T/gate"
echo "api started after db turned healthy: $(median <"$T/gate") ms (median of $(wc -l <"$T/gate") cycles; berth)"
