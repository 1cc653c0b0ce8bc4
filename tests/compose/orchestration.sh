#!/bin/bash
# Integration tests of the compose commands beyond up -d/ps/down: attached up
# (Ctrl-C, a second Ctrl-C, --abort-on-container-exit, --exit-code-from),
# stop and down in reverse dependency order, up SERVICE with its
# dependencies, run, create, scale, logs -f across restarts, events, cp,
# images, wait, ps's flags, secrets and configs, network_mode service:X, and
# a berthd killed in the middle of up.  As root, in a state root of their
# own.  Usage: orchestration.sh BERTH SOURCE_DIR
set -u
BERTH=$(realpath "$1")
SRC=$2
. "$SRC/tests/compose/lib.sh"
mkdir -p "$T/p"
echo s3cret >"$T/p/pw.txt"
cat >"$T/p/compose.yaml" <<'EOF'
name: orc
services:
  db:
    image: busybox
    command: ["sh", "-c", "echo db boot; trap 'echo db bye; exit 0' TERM; while :; do sleep 1 & wait; done"]
    healthcheck: {test: ["CMD", "true"], interval: 1s, retries: 3}
  app:
    image: busybox
    command: ["sh", "-c", "echo app boot; trap 'echo app bye; exit 0' TERM; while :; do sleep 1 & wait; done"]
    depends_on: {db: {condition: service_healthy}}
    environment: {A: "${A_VAL:-1}"}
    secrets:
      - pw
      - {source: tok, target: /etc/tok, uid: "100", mode: 0400}
    configs:
      - {source: inline, target: /etc/inline.conf}
  side:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]
    network_mode: service:app
  extra:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]
    devices: ["/dev/loop-control:/dev/lc:r"]
  once:
    image: busybox
    command: ["sh", "-c", "sleep 1; exit 7"]
    profiles: [tools]
secrets:
  pw: {file: ./pw.txt}
  tok: {environment: TOKEN}
configs:
  inline: {content: "hello $${X}"}
EOF
running() { C ps -q | wc -l; }

out=$(C up -d 2>&1)
check "a secret from an unset environment variable fails up, naming it, before anything is made" \
	"echo \"\$out\" | grep -q 'secret tok: environment variable TOKEN is not set' && [ \"\$(B ps -aq | wc -l)\" = 0 ]"
export TOKEN=t0ken
out=$(C up -d side 2>&1)
check "up SERVICE brings up what it depends on, and nothing else" \
	"[ \"\$(C ps --services | sort | tr '\n' ' ')\" = 'app db side ' ]"
check "a secret from a file is at /run/secrets/NAME, read-only" \
	"[ \"\$(B exec orc-app-1 cat /run/secrets/pw)\" = s3cret ] && ! B exec orc-app-1 sh -c 'echo x >/run/secrets/pw' 2>/dev/null"
check "a secret from the environment at its target with its uid and mode" \
	"[ \"\$(B exec orc-app-1 cat /etc/tok)\" = t0ken ] && [ \"\$(B exec orc-app-1 stat -c '%u %a' /etc/tok)\" = '100 400' ]"
check "a config with inline content (\$\$ kept as \$)" \
	"[ \"\$(B exec orc-app-1 cat /etc/inline.conf)\" = 'hello \${X}' ]"
check "the secret's value is in no container record" "! grep -rqs --include=\\*.json t0ken \"\$BERTH_ROOT/containers\""
check "network_mode service:app shares app's network namespace" \
	"[ \"\$(B exec orc-side-1 ip -4 -o addr show eth0)\" = \"\$(B exec orc-app-1 ip -4 -o addr show eth0)\" ]"

started=$(B inspect -f '{{.State.StartedAt}}' orc-side-1)
out=$(A_VAL=2 C up -d side 2>&1)
check "a dependency made anew restarts its dependents with restart: true (network_mode's implicit one)" \
	"echo \"\$out\" | grep -q 'orc-app-1  Recreate' && echo \"\$out\" | grep -q 'orc-side-1  Restarting' &&
	 [ \"\$(B inspect -f '{{.State.StartedAt}}' orc-side-1)\" != '$started' ] &&
	 [ \"\$(B exec orc-side-1 ip -4 -o addr show eth0)\" = \"\$(B exec orc-app-1 ip -4 -o addr show eth0)\" ]"
out=$(A_VAL=2 C stop 2>&1)
check "stop goes in reverse dependency order: side, then app, then db" \
	"echo \"\$out\" | awk '/orc-side-1  Stopped/ {s=NR} /orc-app-1  Stopping/ {a=NR} /orc-app-1  Stopped/ {b=NR} /orc-db-1  Stopping/ {d=NR} END {exit !(s && a > s && d > b)}'"
check "... and leaves the containers" "[ \"\$(running)\" = 0 ] && [ \"\$(C ps -a -q | wc -l)\" = 3 ]"
check "ps --status exited lists them" "[ \"\$(C ps --status exited -q | wc -l)\" = 3 ]"
out=$(C start 2>&1)
check "start goes in dependency order: app once db is healthy, side after app" \
	"echo \"\$out\" | awk '/orc-db-1  Healthy/ {h=NR} /orc-app-1  Starting/ {a=NR} /orc-app-1  Started/ {b=NR} /orc-side-1  Starting/ {s=NR} END {exit !(h && a > h && s > b)}' &&
	 [ \"\$(running)\" = 3 ] && ! B inspect orc-extra-1 >/dev/null 2>&1"
before=$(B inspect -f '{{.State.StartedAt}}' orc-db-1)
out=$(C restart -t 5 app 2>&1)
check "restart SERVICE restarts only its containers" \
	"echo \"\$out\" | grep -qx 'orc-app-1' && [ \"\$(B inspect -f '{{.State.StartedAt}}' orc-db-1)\" = '$before' ] &&
	 [ \"\$(running)\" = 3 ]"
C stop >/dev/null 2>&1

# attached up: prefixed output, exits reported, Ctrl-C stops (dependents first) and gives 130
"$BERTH" compose -f "$T/p/compose.yaml" up --no-color >"$T/att.out" 2>&1 &
att=$!
wait_for "grep -q 'orc-app-1  *| app boot' '$T/att.out'" 100
kill -INT $att
wait $att
rc=$?
check "attached up prints each container's output with its name" \
	"grep -q '^orc-db-1  *| db boot' '$T/att.out' && grep -q '^orc-app-1  *| app boot' '$T/att.out'"
check "Ctrl-C stops the project gracefully and up exits 130" \
	"[ $rc = 130 ] && grep -q 'Gracefully stopping' '$T/att.out' && grep -q 'orc-app-1  *| app bye' '$T/att.out' &&
	 grep -q 'orc-db-1 exited with code 0' '$T/att.out' && [ \"\$(running)\" = 0 ]"
check "... dependents first" \
	"awk '/orc-app-1  Stopped/ {a=NR} /orc-db-1  Stopping/ {d=NR} END {exit !(a && d > a)}' '$T/att.out'"

out=$(C down 2>&1)
check "down removes in reverse dependency order" \
	"echo \"\$out\" | awk '/orc-side-1  Removed/ {s=NR} /orc-app-1  Removing/ {a=NR} /orc-app-1  Removed/ {b=NR} /orc-db-1  Removing/ {d=NR} END {exit !(s && a > s && d > b)}'"

# a second Ctrl-C kills what ignores its stop signal
mkdir -p "$T/k"
cat >"$T/k/compose.yaml" <<'EOF'
name: stub
services:
  s:
    image: busybox
    command: ["sh", "-c", "trap '' TERM; echo stubborn; while :; do sleep 1; done"]
    stop_grace_period: 60s
EOF
"$BERTH" compose -f "$T/k/compose.yaml" up --no-color >"$T/k.out" 2>&1 &
att=$!
wait_for "grep -q stubborn '$T/k.out'" 100
kill -INT $att
wait_for "grep -q 'stub-s-1  Stopping' '$T/k.out'" 50
kill -INT $att
wait $att
check "a second Ctrl-C kills the containers" \
	"grep -q 'stub-s-1  Killed' '$T/k.out' && [ \"\$(B inspect -f '{{.State.ExitCode}}' stub-s-1)\" = 137 ]"
"$BERTH" compose -f "$T/k/compose.yaml" down >/dev/null 2>&1

# --abort-on-container-exit and --exit-code-from
cat >"$T/k/compose.yaml" <<'EOF'
name: ab
services:
  one:
    image: busybox
    command: ["sh", "-c", "echo one done; exit 3"]
  long:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]
EOF
out=$(timeout 60 "$BERTH" compose -f "$T/k/compose.yaml" up --no-color --exit-code-from one 2>&1)
rc=$?
check "up --exit-code-from: the service's exit code, everything stopped" \
	"[ $rc = 3 ] && echo \"\$out\" | grep -q 'Aborting on container exit' &&
	 [ \"\$(B inspect -f '{{.State.Running}}' ab-long-1)\" = false ]"
out=$(timeout 60 "$BERTH" compose -f "$T/k/compose.yaml" up --no-color --abort-on-container-exit 2>&1)
rc=$?
check "up --abort-on-container-exit stops all when one exits, with its code" \
	"[ $rc = 3 ] && [ \"\$(B inspect -f '{{.State.Running}}' ab-long-1)\" = false ]"
out=$(timeout 60 "$BERTH" compose -f "$T/k/compose.yaml" up --no-color --abort-on-container-exit one 2>&1)
check "attached up SERVICE attaches to that service only" \
	"echo \"\$out\" | grep -qx 'Attaching to ab-one-1' && echo \"\$out\" | grep -q '^ab-one-1  *| one done'"
"$BERTH" compose -f "$T/k/compose.yaml" down >/dev/null 2>&1

# run: one-off containers
out=$(C run --rm -T app sh -c 'echo A=$A' 2>&1)
check "run starts the dependencies and runs the command in a one-off container" \
	"echo \"\$out\" | grep -qx A=1 && [ \"\$(B inspect -f '{{.State.Running}}' orc-db-1)\" = true ]"
check "... which --rm removes" "[ \"\$(B ps -a --filter label=com.docker.compose.oneoff=True -q | wc -l)\" = 0 ]"
out=$(C run -T -e A=2 app sh -c 'echo A=$A; exit 5' 2>&1)
rc=$?
check "run -e overrides the environment and the exit status is the command's" \
	"[ $rc = 5 ] && echo \"\$out\" | grep -qx A=2"
check "the one-off is named <project>-<service>-run-<id> and labelled oneoff" \
	"B ps -a --format '{{.Names}}' | grep -Eq '^orc-app-run-[0-9a-f]{12}$' &&
	 [ \"\$(B ps -a --filter label=com.docker.compose.oneoff=True -q | wc -l)\" = 1 ]"
C up -d app >/dev/null 2>&1
check "a one-off is no replica: up of the service still makes <project>-<service>-1" \
	"B inspect orc-app-1 >/dev/null && ! C ps -a | grep -q 'orc-app-2'"
out=$(C run --rm --no-deps -T extra sh -c 'nslookup extra >/dev/null 2>&1 && echo alias || echo no-alias' 2>&1)
check "run --no-deps: no alias of the service's name unless --use-aliases" "echo \"\$out\" | grep -qx no-alias"

if [ -c /dev/loop-control ]; then
	out=$(C run --rm -T --no-deps extra sh -c 'dd if=/dev/lc of=/dev/null count=0 2>/dev/null && echo read-ok
		dd if=/dev/zero of=/dev/lc count=0 2>/dev/null && echo write-ok || echo write-refused' 2>&1)
	check "devices: the host's node at its target, read allowed, write refused by the device cgroup" \
		"echo \"\$out\" | grep -qx read-ok && echo \"\$out\" | grep -qx write-refused"
else
	echo "skip devices: this machine has no /dev/loop-control to lend a container"
fi

# create, scale, logs -f, events, cp, images, wait
C create extra >/dev/null 2>&1
check "create makes a container without starting it" \
	"[ \"\$(B inspect -f '{{.State.Status}}' orc-extra-1)\" = created ]"
C scale db=2 >/dev/null 2>&1
check "scale db=2 adds orc-db-2" "[ \"\$(B inspect -f '{{.State.Running}}' orc-db-2)\" = true ]"
out=$(C up -d --scale db=1 2>&1)
check "up --scale db=1 removes the highest number" "wait_for '! B inspect orc-db-2 >/dev/null 2>&1' 50"
C logs -f --no-color db >"$T/logs.out" 2>&1 &
lg=$!
C events --json >"$T/events.out" 2>&1 &
ev=$!
sleep 0.3
C restart db >/dev/null 2>&1
check "logs -f follows a container that restarts" \
	"wait_for '[ \"\$(grep -c \"orc-db-1  *| db boot\" \"$T/logs.out\")\" -ge 2 ]' 50"
check "events --json streams the project's events" \
	"wait_for 'grep -q \"\\\"action\\\":\\\"start\\\".*\\\"service\\\":\\\"db\\\"\" \"$T/events.out\"' 30"
kill $ev 2>/dev/null
C up -d --scale db=2 >/dev/null 2>&1
check "logs -f follows a container made after it started" \
	"wait_for 'grep -q \"orc-db-2  *| db boot\" \"$T/logs.out\"' 50"
C stop db >/dev/null 2>&1
check "logs -f ends when the containers stop" "wait_for '! kill -0 $lg 2>/dev/null' 50"
kill $lg 2>/dev/null
C start db >/dev/null 2>&1
echo copied >"$T/in.txt"
C cp "$T/in.txt" db:/tmp/in.txt && C cp db:/tmp/in.txt "$T/back.txt"
check "cp copies into a service's container and back" "[ \"\$(cat \"$T/back.txt\" 2>/dev/null)\" = copied ]"
check "images lists each container's image" "C images | grep -q '^orc-db-1 *busybox *latest'"
out=$(C --profile tools up -d once 2>&1)
C wait once
rc=$?
check "wait returns the exit status of the service's container" "[ $rc = 7 ]"
check "ps --format json gives one object a line" \
	"C ps --format json | grep -q '\"Name\":\"orc-db-1\".*\"Service\":\"db\"'"
old_image=$(B inspect -f '{{.Image}}' orc-db-1)
B tag whiteout:latest busybox:latest
out=$(C up -d --dry-run db 2>&1)
check "up --dry-run names an image loaded again under the service's tag" \
	"echo \"\$out\" | grep -q 'orc-db-1  Recreate: changed: the image'"
out=$(C up -d db 2>&1)
check "... and up recreates the service's containers from it" \
	"echo \"\$out\" | grep -q 'orc-db-1  Recreate' && [ -n '$old_image' ] &&
	 [ \"\$(B inspect -f '{{.Image}}' orc-db-1)\" != '$old_image' ]"
B tag "$old_image" busybox:latest
out=$(C --profile tools down 2>&1)
check "nothing is left after down" "[ \"\$(leftovers)\" = 0 ]"
out=$(C --progress tty up -d db 2>&1)
check "--progress tty: a row a resource, redrawn in place, with a count" \
	"echo \"\$out\" | grep -q '\[+\] Running 2/2' && echo \"\$out\" | grep -q 'Container orc-db-1 *Started' &&
	 echo \"\$out\" | grep -q \$'\\033\\[2K'"
out=$(C --progress quiet down 2>&1)
check "--progress quiet prints nothing" "[ -z \"\$out\" ] && [ \"\$(leftovers)\" = 0 ]"

# held starts: a service that waits for its dependency is made up to the exec of its
# process meanwhile (its init waits on the exec fifo, the container is "created"); it
# starts once the dependency holds. A dependency that fails, or a down, gives the held
# start up: a created container with nothing of the start left (runtime state, monitor
# directory, cgroups, root filesystem mount).
mkdir -p "$T/h"
cat >"$T/h/compose.yaml" <<'EOF'
name: held
services:
  db:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]
    healthcheck: {test: ["CMD", "test", "-f", "/tmp/ok"], interval: 1s, start_period: 60s, start_interval: 100ms}
  app:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]
    depends_on: {db: {condition: service_healthy}}
  fail:
    image: busybox
    command: ["sh", "-c", "while [ ! -f /tmp/go ]; do sleep 0.1; done; exit 3"]
  after:
    image: busybox
    command: ["true"]
    depends_on: {fail: {condition: service_completed_successfully}}
EOF
H() { "$BERTH" compose -f "$T/h/compose.yaml" "$@"; }
id_of() { B inspect -f '{{.Id}}' "$1" 2>/dev/null; }
# made by the runtime, its init waiting for the start (runtime start opens the fifo)
rt_created() { [ -p "$BERTH_RUN/runtime/$(id_of "$1")/exec.fifo" ]; }
# nothing of a start: no runtime state, monitor directory, cgroup or root filesystem mount
unstarted() {
	local id
	id=$(id_of "$1")
	[ -n "$id" ] && [ "$(B inspect -f '{{.State.Status}}' "$1")" = created ] &&
		[ ! -e "$BERTH_RUN/runtime/$id" ] && [ ! -e "$BERTH_RUN/containers/$id" ] &&
		! findmnt -rn -o TARGET | grep -q "$id/rootfs" &&
		! cgroups_now | grep -q "$id"
}
H up -d db app >"$T/h/up.log" 2>&1 &
up=$!
wait_for "rt_created held-app-1" 100
check "a service waiting for its dependency to be healthy is made meanwhile, its start held" \
	"rt_created held-app-1 && [ \"\$(B inspect -f '{{.State.Status}}' held-app-1)\" = created ] &&
	 kill -0 $up 2>/dev/null"
B exec held-db-1 touch /tmp/ok
wait $up
rc=$?
check "... and starts once the dependency is healthy" \
	"[ $rc = 0 ] && [ \"\$(B inspect -f '{{.State.Status}}' held-app-1)\" = running ]"
H up -d fail after >"$T/h/up2.log" 2>&1 &
up=$!
wait_for "rt_created held-after-1" 100
B exec held-fail-1 touch /tmp/go
wait $up
rc=$?
check "a dependency that fails gives the held start up: up fails, naming it" \
	"[ $rc != 0 ] && grep -q 'service \"fail\" didn.t complete successfully: exit 3' '$T/h/up2.log'"
check "... and the dependent is a created container with nothing of the start left" \
	"unstarted held-after-1"
H rm -fs app >/dev/null 2>&1
B exec held-db-1 rm /tmp/ok
wait_for "[ \"\$(B inspect -f '{{.State.Health.Status}}' held-db-1)\" != healthy ]" 50
H up -d db app >"$T/h/up3.log" 2>&1 &
up=$!
wait_for "rt_created held-app-1" 100
out=$(H down 2>&1)
wait $up
rc=$?
check "down while a start is held takes it all away, and the up waiting on it ends" \
	"[ $rc != 0 ] && echo \"\$out\" | grep -q 'Container held-app-1  Removed' && [ \"\$(leftovers)\" = 0 ]"
check "... saying which dependency failed" \
	"grep -q 'dependency failed to start: container held-db-1 exited (0)' '$T/h/up3.log'"
# the critical path first: a service others wait on the health of starts before the
# services no one waits on (a, b, c, d come first in the file's order)
cat >"$T/h/compose.yaml" <<'EOF'
name: prio
x-s: &s
  image: busybox
  command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]
services:
  a: *s
  b: *s
  c: *s
  d: *s
  z:
    <<: *s
    healthcheck: {test: ["CMD", "true"], interval: 1s, start_period: 10s, start_interval: 100ms}
  w:
    <<: *s
    depends_on: {z: {condition: service_healthy}}
EOF
B events --format '{{.Action}} {{index .Actor.Attributes "com.docker.compose.project"}} {{index .Actor.Attributes "com.docker.compose.service"}}' >"$T/h/ev" 2>&1 &
ev=$!
sleep 0.3
H up -d >/dev/null 2>&1
kill $ev
check "the service others wait on the health of is started first" \
	"[ \"\$(grep '^start prio ' '$T/h/ev' | head -1)\" = 'start prio z' ] && [ \$(grep -c '^start prio ' '$T/h/ev') = 6 ]"
H down >/dev/null 2>&1
cat >"$T/h/compose.yaml" <<'EOF'
name: held
services:
  bad:
    image: busybox
    command: ["/nonexistent"]
  dep:
    image: busybox
    command: ["true"]
    depends_on: [bad]
EOF
out=$(timeout 20 "$BERTH" compose -f "$T/h/compose.yaml" up -d 2>&1)
rc=$?
check "a container that cannot start fails up at once, with the reason" \
	"[ $rc = 1 ] && echo \"\$out\" | grep -q 'service \"bad\": exec /nonexistent: No such file'"
check "... and its dependent is not started" \
	"[ \"\$(B inspect -f '{{.State.Status}}' held-dep-1)\" = created ]"
H down >/dev/null 2>&1

# kill -9 of berthd in the middle of up of 10 services: up again converges
{
	echo "name: ten"
	echo "services:"
	for i in 0 1 2 3 4 5 6 7 8 9; do
		echo "  s$i:"
		echo "    image: busybox"
		echo "    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; while :; do sleep 1 & wait; done\"]"
		[ $i = 0 ] && echo "    healthcheck: {test: [\"CMD\", \"true\"], interval: 1s}"
		[ $i -gt 0 ] && echo "    depends_on: {s$((i - 1)): {condition: $([ $i = 1 ] && echo service_healthy || echo service_started)}}"
	done
} >"$T/k/compose.yaml"
"$BERTH" compose -f "$T/k/compose.yaml" up -d >/dev/null 2>&1 &
up=$!
wait_for "[ \"\$(B ps -aq 2>/dev/null | wc -l)\" -ge 3 ]" 100
kill -9 "$(berthd_pid)"
wait $up
out=$("$BERTH" compose -f "$T/k/compose.yaml" up -d --wait 2>&1)
rc=$?
check "after berthd is killed in the middle of up, up again converges to the whole project" \
	"[ $rc = 0 ] && [ \"\$(\"$BERTH\" compose -f '$T/k/compose.yaml' ps -q | wc -l)\" = 10 ] &&
	 [ \"\$(B ps -aq | wc -l)\" = 10 ]"
# without the file (a directory with none): -p NAME finds the project by its labels
mkdir -p "$T/empty"
check "ps -p NAME without a Compose file lists the project's containers" \
	"[ \"\$(cd '$T/empty' && \"$BERTH\" compose -p ten ps -q | wc -l)\" = 10 ]"
out=$(cd "$T/empty" && "$BERTH" compose -p ten down 2>&1)
check "... and down -p NAME without it takes the project away; nothing is left" \
	"echo \"\$out\" | grep -q 'Network ten_default  Removed' && [ \"\$(leftovers)\" = 0 ]"

if [ $fails -gt 0 ]; then
	echo "$fails compose orchestration test(s) failed"
	echo "--- berthd's log"
	tail -30 "$BERTH_RUN/berthd.log"
	exit 1
fi
echo "all compose orchestration tests passed"
