#!/bin/bash
# Every example under examples/compose, brought up with the project's own
# test image and checked for what it shows, then taken down: nothing may be
# left.  As root.  Usage: examples.sh BERTH SOURCE_DIR
set -u
BERTH=$(realpath "$1")
SRC=$2
. "$SRC/tests/compose/lib.sh"
E=$SRC/examples/compose
X() { local d=$1; shift; "$BERTH" compose -f "$E/$d/compose.yaml" "$@"; }
fetch() { timeout 5 busybox wget -qO- "$1" 2>/dev/null; }

# quickstart: web + api + worker + db, health-gated, a volume, a published port
out=$(WEB_PORT=18090 X quickstart up -d --wait 2>&1)
rc=$?
check "quickstart: up -d --wait brings up all four services, api healthy" \
	"[ $rc = 0 ] && [ \"\$(X quickstart ps -q | wc -l)\" = 4 ] &&
	 [ \"\$(B inspect -f '{{.State.Health.Status}}' quickstart-api-1)\" = healthy ]"
check "quickstart: web started after api was healthy" \
	"echo \"\$out\" | awk '/quickstart-api-1  Healthy/ {h=NR} /quickstart-web-1  Starting/ {w=NR} END {exit !(h && w > h)}'"
check "quickstart: the page through the published port" \
	"wait_for '[ \"\$(fetch http://127.0.0.1:18090/)\" = \"hello from the quickstart web\" ]' 30"
check "quickstart: the back network is internal: db cannot reach the web's front" \
	"! B exec quickstart-db-1 sh -c 'timeout 3 wget -qO- http://web:8080/' >/dev/null 2>&1"
out=$(X quickstart down -v 2>&1)
check "quickstart: down -v leaves nothing" "[ \"\$(leftovers)\" = 0 ]"

# migration: service_completed_successfully
out=$(X migration up -d --wait 2>&1)
rc=$?
check "migration: the app starts after the migration exited 0 and serves its schema" \
	"[ $rc = 0 ] && echo \"\$out\" | awk '/migration-migrate-1  Exited/ {m=NR} /migration-app-1  Starting/ {a=NR} END {exit !(m && a > m)}' &&
	 wait_for '[ \"\$(fetch http://127.0.0.1:18091/)\" = schema-v2 ]' 30"
out=$(MIGRATE_EXIT=2 X migration up -d --force-recreate 2>&1)
rc=$?
check "migration: a failed migration fails up, naming the service and the code" \
	"[ $rc != 0 ] && echo \"\$out\" | grep -q 'service \"migrate\" didn.t complete successfully: exit 2'"
out=$(X migration down -v 2>&1)
check "migration: down -v leaves nothing" "[ \"\$(leftovers)\" = 0 ]"

# workers: three replicas behind one name
out=$(X workers up -d --wait 2>&1)
check "workers: three replicas" "[ \"\$(X workers ps -q --status running | wc -l)\" = 4 ]"
# berthd's DNS rotates the answers; glibc's getaddrinfo (wget) then sorts them by RFC 6724,
# so the first answer of each query is what round robin means here
first=$(for i in 1 2 3; do B exec workers-client-1 nslookup worker | awk '/^Address: [0-9]/ {print $2; exit}'; done | sort -u | wc -l)
check "workers: the name worker answers with each replica first in turn (round robin)" "[ $first = 3 ]"
served=$(for ip in $(B exec workers-client-1 nslookup worker | awk '/^Address: [0-9]/ {print $2}'); do
	B exec workers-client-1 timeout 3 wget -qO- "http://$ip/"; done | sort -u | wc -l)
check "workers: every replica the name resolves to serves its page" "[ $served = 3 ]"
out=$(X workers up -d --scale worker=5 2>&1)
check "workers: --scale worker=5 adds two" "[ \"\$(X workers ps -q worker | wc -l)\" = 5 ]"
out=$(X workers down 2>&1)
check "workers: down leaves nothing" "[ \"\$(leftovers)\" = 0 ]"

# isolation: frontend/backend
out=$(X isolation up -d --wait 2>&1)
check "isolation: the proxy reaches the web server by name" \
	"wait_for '[ \"\$(B exec isolation-proxy-1 timeout 3 wget -qO- http://web/ 2>/dev/null)\" = web ]' 30"
check "isolation: the web server reaches the database by its alias" \
	"[ \"\$(B exec isolation-web-1 timeout 3 wget -qO- http://database:5432/ 2>/dev/null)\" = db ]"
check "isolation: the proxy cannot resolve the database" \
	"! B exec isolation-proxy-1 nslookup db >/dev/null 2>&1 && ! B exec isolation-proxy-1 nslookup database >/dev/null 2>&1"
db_ip=$(B exec isolation-db-1 ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1)
check "isolation: nor reach it by address" \
	"! B exec isolation-proxy-1 timeout 3 wget -qO- http://$db_ip:5432/ >/dev/null 2>&1"
out=$(X isolation down 2>&1)
check "isolation: down leaves nothing" "[ \"\$(leftovers)\" = 0 ]"

# profiles
out=$(X profiles up -d 2>&1)
check "profiles: up -d starts only the services without a profile" \
	"[ \"\$(X profiles ps --services)\" = app ]"
out=$(X profiles --profile debug up -d 2>&1)
check "profiles: --profile debug adds the debug service" \
	"[ \"\$(X profiles ps --services | sort | tr '\n' ' ')\" = 'app debug ' ]"
out=$(X profiles up -d seed 2>&1)
check "profiles: naming a service enables its profile" \
	"B inspect profiles-seed-1 >/dev/null && [ \"\$(B logs profiles-seed-1)\" = seeded ]"
out=$(COMPOSE_PROFILES=debug X profiles down 2>&1)
check "profiles: down takes them all, whatever the profiles" "[ \"\$(leftovers)\" = 0 ]"

# .env interpolation
out=$(X dotenv up -d --wait 2>&1)
check "dotenv: values from .env (greeting and port)" \
	"wait_for '[ \"\$(fetch http://127.0.0.1:18092/)\" = \"hello from .env\" ]' 30"
out=$(X dotenv down 2>&1)
out=$("$BERTH" compose --env-file "$E/dotenv/other.env" -f "$E/dotenv/compose.yaml" up -d --wait 2>&1)
check "dotenv: --env-file other.env instead" \
	"wait_for '[ \"\$(fetch http://127.0.0.1:18093/)\" = \"hello from other.env\" ]' 30"
out=$(GREETING=shell X dotenv config 2>&1)
check "dotenv: the shell's environment wins over .env" "echo \"\$out\" | grep -q 'GREETING: shell'"
out=$("$BERTH" compose --env-file "$E/dotenv/other.env" -f "$E/dotenv/compose.yaml" down 2>&1)
check "dotenv: down leaves nothing" "[ \"\$(leftovers)\" = 0 ]"

# secrets
out=$(X secrets up -d 2>&1)
check "secrets: without API_TOKEN up fails, naming it, and makes nothing" \
	"echo \"\$out\" | grep -q 'environment variable API_TOKEN is not set' && [ \"\$(B ps -aq | wc -l)\" = 0 ]"
out=$(API_TOKEN=tok-123 X secrets up -d --wait 2>&1)
check "secrets: a file secret at /run/secrets/db_password, read by the service's user" \
	"[ \"\$(B exec secrets-app-1 cat /run/secrets/db_password)\" = 'correct horse battery staple' ]"
check "secrets: an environment secret at its target, owned 1000:1000, mode 400" \
	"[ \"\$(B exec secrets-app-1 cat /run/secrets/api.token)\" = tok-123 ] &&
	 [ \"\$(B exec secrets-app-1 stat -c '%u:%g %a' /run/secrets/api.token)\" = '1000:1000 400' ]"
check "secrets: an inline config at /etc/app.conf" \
	"B exec secrets-app-1 grep -qx 'greeting = hello' /etc/app.conf"
check "secrets: read-only" "! B exec secrets-app-1 sh -c 'echo x >/etc/app.conf' 2>/dev/null"
out=$(X secrets down 2>&1)
check "secrets: down leaves nothing" "[ \"\$(leftovers)\" = 0 ]"

# projects of the loader's corpus (awesome-compose) that need only images berth has: busybox
# retagged as their images, an override file for what the real images would run
A=$SRC/tests/corpus/shared/compose/awesome-compose
loop='["sh", "-c", "trap '"'"'exit 0'"'"' TERM; while :; do sleep 1 & wait; done"]'
for img in gitea/gitea:latest postgres:alpine mariadb:10.6.4-focal wordpress:latest; do
	B tag busybox "$img"
done
printf 'services:\n  gitea: {command: %s, ports: !override ["127.0.0.1:18300:3000"]}\n  db: {command: %s}\n' \
	"$loop" "$loop" >"$T/gitea.override.yaml"
printf 'services:\n  wordpress: {command: %s, ports: !override ["127.0.0.1:18301:80"]}\n  db: {command: %s}\n' \
	"$loop" "$loop" >"$T/wordpress.override.yaml"
for p in gitea-postgres:gitea wordpress-mysql:wordpress; do
	proj=${p%%:*} front=${p#*:}
	G() { "$BERTH" compose -f "$A/$proj/compose.yaml" -f "$T/$front.override.yaml" "$@"; }
	out=$(G up -d --wait 2>&1)
	rc=$?
	check "awesome-compose $proj comes up: both services, the project's volume" \
		"[ $rc = 0 ] && [ \"\$(G ps -q | wc -l)\" = 2 ] && B volume inspect ${proj}_db_data >/dev/null"
	check "awesome-compose $proj: $front finds db by name, with the file's environment" \
		"B exec $proj-$front-1 nslookup db >/dev/null 2>&1 &&
		 B exec $proj-$front-1 env | grep -Eq '^(WORDPRESS_DB_HOST=db|DB_HOST=db:5432)$'"
	out=$(G down -v 2>&1)
	check "awesome-compose $proj: down -v leaves nothing" "[ \"\$(leftovers)\" = 0 ]"
done

if [ $fails -gt 0 ]; then
	echo "$fails compose example test(s) failed"
	tail -30 "$BERTH_RUN/berthd.log"
	exit 1
fi
echo "all compose example tests passed"
