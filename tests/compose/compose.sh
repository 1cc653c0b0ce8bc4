#!/bin/bash
# Integration tests of `berth compose up -d`, `ps` and `down` through berthd,
# as root, with real containers, bridges and rules, in a state root of their
# own.  Usage: compose.sh BERTH SOURCE_DIR
set -u
BERTH=$(realpath "$1")
SRC=$2
. "$SRC/tests/compose/lib.sh"
mkdir -p "$T/p"
cat >"$T/p/compose.yaml" <<'EOF'
name: shop
services:
  web:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && echo shop-web >/www/index.html && exec httpd -f -p 80 -h /www"]
    ports: ["127.0.0.1:18480:80"]
    environment:
      COLOUR: ${COLOUR:-blue}
    depends_on:
      api: {condition: service_healthy}
      migrate: {condition: service_completed_successfully}
  api:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]
    healthcheck: {test: ["CMD", "true"], interval: 1s, retries: 3}
    volumes: [data:/data]
  migrate:
    image: busybox
    command: ["sh", "-c", "echo migrated; exit ${MIGRATE_EXIT:-0}"]
  worker:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]
    deploy:
      replicas: ${WORKERS:-3}
volumes:
  data: {}
EOF

out=$(C up -d 2>&1)
rc=$?
check "up -d brings the project up" "[ $rc = 0 ]"
check "... containers named <project>-<service>-<n>" \
	"for n in shop-web-1 shop-api-1 shop-migrate-1 shop-worker-1 shop-worker-2 shop-worker-3; do B inspect \$n >/dev/null || exit 1; done"
check "... with docker compose's labels" \
	"[ \"\$(B inspect -f '{{index .Config.Labels \"com.docker.compose.project\"}} {{index .Config.Labels \"com.docker.compose.service\"}} {{index .Config.Labels \"com.docker.compose.container-number\"}}' shop-worker-2)\" = 'shop worker 2' ]"
check "... the project's network and volume" \
	"B network inspect shop_default >/dev/null && B volume inspect shop_data >/dev/null"
check "web started only after api was healthy and migrate had completed" \
	"echo \"\$out\" | awk '/shop-api-1  Healthy/ {h=NR} /shop-migrate-1  Exited/ {m=NR} /shop-web-1  Starting/ {w=NR} END {exit !(h && m && w > h && w > m)}'"
check "the web page answers through the published port" \
	"[ \"\$(timeout 5 busybox wget -qO- http://127.0.0.1:18480/)\" = shop-web ]"
check "the service name resolves to all its replicas from another service" \
	"[ \"\$(B exec shop-api-1 nslookup worker | grep -c '^Address: [0-9]')\" = 3 ]"
check "compose ps lists the running containers with their service" \
	"C ps | grep -q 'shop-web-1 .* web ' && [ \"\$(C ps -q | wc -l)\" = 5 ]"
check "compose logs prefixes each line with its container" \
	"C logs --no-color migrate | grep -qx 'shop-migrate-1 | migrated' &&
	 C logs --no-log-prefix migrate | grep -qx migrated"
started=$(B inspect -f '{{.State.StartedAt}}' shop-api-1)
out=$(C up -d 2>&1)
check "a second up with nothing changed creates nothing and leaves running containers be" \
	"! echo \"\$out\" | grep -Eq 'Created|Recreate' && echo \"\$out\" | grep -q 'shop-api-1  Running' &&
	 [ \"\$(B inspect -f '{{.State.StartedAt}}' shop-api-1)\" = '$started' ]"
out=$(COLOUR=green C up -d --dry-run 2>&1)
check "up --dry-run names the recreation and the field that causes it, and does nothing" \
	"echo \"\$out\" | grep -q 'shop-web-1  Recreate: changed: environment' &&
	 echo \"\$out\" | grep -q 'shop-api-1  Running' && B exec shop-web-1 env | grep -qx COLOUR=blue"
B run -d --name shop-odd --label com.docker.compose.project=shop --label com.docker.compose.service=web \
	--label com.docker.compose.container-number=zero busybox sleep 100 >/dev/null
out=$(timeout 10 "$BERTH" compose -f "$T/p/compose.yaml" up -d --dry-run 2>&1)
check "a container with a number label that is no number is planned for removal, not looped on" \
	"echo \"\$out\" | grep -q 'shop-odd  Remove'"
B rm -f shop-odd >/dev/null
check "compose exec runs a command in a service's container (--index)" \
	"[ \"\$(C exec -T --index 2 worker hostname)\" = \"\$(B inspect -f '{{.Config.Hostname}}' shop-worker-2)\" ]"
before=$(B inspect -f '{{.Id}}' shop-api-1)
out=$(COLOUR=green C up -d 2>&1)
check "a changed service is recreated, the others are kept" \
	"echo \"\$out\" | grep -q 'shop-web-1  Recreate' && [ \"\$(B inspect -f '{{.Id}}' shop-api-1)\" = '$before' ] &&
	 B exec shop-web-1 env | grep -qx COLOUR=green"
out=$(WORKERS=1 COLOUR=green C up -d 2>&1)
check "scaling down removes the highest numbers" \
	"wait_for '! B inspect shop-worker-3 >/dev/null 2>&1 && ! B inspect shop-worker-2 >/dev/null 2>&1' 50 && B inspect shop-worker-1 >/dev/null"
out=$(COLOUR=green WORKERS=2 C up -d 2>&1)
check "scaling up takes the lowest free numbers" "B inspect shop-worker-2 >/dev/null 2>&1"
out=$(COLOUR=red MIGRATE_EXIT=3 C up -d 2>&1)
rc=$?
check "a dependency that must complete but exits 3 fails up, naming it and the code" \
	"[ $rc != 0 ] && echo \"\$out\" | grep -q 'service \"migrate\" didn.t complete successfully: exit 3'"
# the engine's commands on the project
out=$(COLOUR=red C up -d --wait --scale worker=3 2>&1)
rc=$?
check "up --wait --scale: api is healthy and there are 3 workers when it returns" \
	"[ $rc = 0 ] && B inspect -f '{{.State.Health.Status}}' shop-api-1 | grep -qx healthy &&
	 [ \"\$(C ps -q | wc -l)\" = 5 ]"
check "compose port prints a service's public port" "[ \"\$(C port web 80)\" = 127.0.0.1:18480 ]"
check "compose ls lists the running project" "C ls | grep -q '^shop .*running(5)'"
C stop worker >/dev/null
check "compose stop SERVICE stops only that service's containers" \
	"[ \"\$(C ps -q | wc -l)\" = 2 ] && [ \"\$(C ps -a -q | wc -l)\" = 6 ]"
C start worker >/dev/null
check "compose start starts them again" "[ \"\$(C ps -q | wc -l)\" = 5 ]"
C kill -s KILL worker >/dev/null
# kill returns once the signal is sent; rm takes the containers that have stopped
wait_for "[ \"\$(C ps -q worker | wc -l)\" = 0 ]" 50
C rm -f worker >/dev/null
check "compose kill and rm: the workers are gone, the rest runs" \
	"! B inspect shop-worker-1 >/dev/null 2>&1 && [ \"\$(C ps -q | wc -l)\" = 2 ]"
sed -i 's/^  worker:/  helper:/' "$T/p/compose.yaml"
C up -d --scale helper=0 >/dev/null 2>&1
B run -d --name shop-old-1 --label com.docker.compose.project=shop --label com.docker.compose.service=old busybox sleep 100 >/dev/null
out=$(COLOUR=red C up -d --scale helper=0 2>&1)
check "an orphan container is reported" "echo \"\$out\" | grep -q 'Found orphan containers (\[shop-old-1\])'"
out=$(COLOUR=red C up -d --scale helper=0 --remove-orphans 2>&1)
check "... and removed with --remove-orphans" "! B inspect shop-old-1 >/dev/null 2>&1"
out=$(C down 2>&1)
check "down removes the containers and the network, not the volume" \
	"[ \"\$(B ps -aq | wc -l)\" = 0 ] && ! B network inspect shop_default >/dev/null 2>&1 && B volume inspect shop_data >/dev/null"
out=$(C down -v 2>&1)
check "down -v removes the volume too" "! B volume inspect shop_data >/dev/null 2>&1"
check "nothing is left: containers, networks, volumes, veths, port rules" "[ \"\$(leftovers)\" = 0 ]"

# refusals: before anything is made
cat >"$T/p/compose.yaml" <<'EOF'
name: bad
services:
  a:
    image: busybox
    userns_mode: host
EOF
out=$(C up -d 2>&1)
check "a key berth cannot apply fails up, naming the key and the service" \
	"echo \"\$out\" | grep -q 'service \"a\": userns_mode' && [ \"\$(B ps -aq | wc -l)\" = 0 ]"
cat >"$T/p/compose.yaml" <<'EOF'
name: bad
services:
  b:
    image: busybox
    depends_on: {c: {condition: service_healthy}}
  c:
    image: busybox
EOF
out=$(C up -d 2>&1)
check "service_healthy on a service without a health check is refused" \
	"echo \"\$out\" | grep -q 'depends on \"c\" being healthy, but it has no health check' && [ \"\$(B ps -aq | wc -l)\" = 0 ]"
check "nothing is left after the refusals" "[ \"\$(leftovers)\" = 0 ]"

if [ $fails -gt 0 ]; then
	echo "$fails compose test(s) failed"
	echo "--- berthd's log"; tail -30 "$BERTH_RUN/berthd.log"
	exit 1
fi
echo "all compose tests passed"
