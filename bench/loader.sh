#!/bin/bash
# Times `berth compose config -q` as a whole process on a small file, a
# typical one (awesome-compose) and a generated 200-service file; prints the
# median of N runs in milliseconds.  Usage: bench/loader.sh [N] (default 50)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-50}
BERTH=./build/bin/berth
[ -x "$BERTH" ] || sh scripts/build.sh >/dev/null
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

printf 'services:\n  web:\n    image: busybox\n' >"$T/small.yaml"
typical=tests/corpus/shared/compose/awesome-compose/nginx-flask-mysql/compose.yaml
gen() { # services
	echo "services:"
	for i in $(seq 1 "$1"); do
		cat <<EOT
  svc$i:
    image: busybox:latest
    command: ["sh", "-c", "sleep 1000"]
    environment: [A=1, "B=\${B:-2}"]
    ports: ["$((10000 + i)):80"]
    volumes: ["./data$i:/data", "v$i:/v"]
    depends_on: [$([ "$i" -gt 1 ] && echo "svc$((i - 1))")]
    healthcheck: {test: ["CMD", "true"], interval: 10s}
EOT
	done
	echo "volumes:"
	for i in $(seq 1 "$1"); do echo "  v$i:"; done
}
gen 200 >"$T/svc200.yaml"
gen 50 >"$T/svc50.yaml"
for f in "$T"/*.yaml; do "$BERTH" compose -f "$f" config -q; done

median() { # file...
	local times=()
	for _ in $(seq 1 "$N"); do
		local s e
		s=$(date +%s%N)
		"$BERTH" compose -f "$1" config -q >/dev/null
		e=$(date +%s%N)
		times+=($(((e - s) / 1000)))
	done
	printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]/1000}'
}

printf '%-28s %10s\n' "file" "median ms"
for f in "$T/small.yaml" "$typical" "$T/svc50.yaml" "$T/svc200.yaml"; do
	printf '%-32s %10s\n' "$(basename "$f")" "$(median "$f")"
done
