#!/bin/bash
# Integration tests of berthd, its monitors and the engine's commands, as
# root, with real containers, overlay mounts and cgroups, in a state root of
# their own.  Usage: daemon.sh BERTH SOURCE_DIR RAWHTTP
set -u
BERTH=$(realpath "$1")
SRC=$2
RAW=$(realpath "$3")
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: berthd's tests need root (namespaces, mounts, cgroups)"
	exit 77
fi
T=$(mktemp -d /tmp/berth-daemon-test.XXXXXX)
export BERTH_ROOT=$T/root BERTH_RUN=$T/run
# a client that stalls gets 408 after this long (the slow-client test)
export BERTHD_REQUEST_TIMEOUT=2
SOCK=$BERTH_RUN/berthd.sock
fails=0
# berth's links that were there before this test (another berthd's): never touched
links_before=$(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep '^berth' | sort)

berthd_pid() { cat "$BERTH_RUN/berthd.pid" 2>/dev/null; }
# processes this test started: berthd and the monitors it spawned (by their command lines)
our_pids() {
	for p in /proc/[0-9]*; do
		grep -qs -- "$T/" "$p/cmdline" && basename "$p"
	done
}
cleanup() {
	for id in $("$BERTH" ps -aq --no-trunc 2>/dev/null); do "$BERTH" rm -f "$id" >/dev/null 2>&1; done
	[ -n "$(berthd_pid)" ] && kill -9 "$(berthd_pid)" 2>/dev/null
	for p in $(our_pids); do kill -9 "$p" 2>/dev/null; done
	# the default network's bridge and berth's table, if this test's berthd made them
	for l in $(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep '^berth' | sort |
		comm -23 - <(echo "$links_before")); do ip link del "$l" 2>/dev/null; done
	[ -z "$links_before" ] && nft delete table ip berth 2>/dev/null
	for m in $(findmnt -rn -o TARGET | grep "^$T/" | sort -r); do umount -l "$m"; done
	for d in /sys/fs/cgroup/berth /sys/fs/cgroup/*/berth; do
		for id in $(ls "$T/root/containers" 2>/dev/null); do rmdir "$d/$id" 2>/dev/null; done
	done
	rm -rf "$T"
}
trap cleanup EXIT
check() { # name, condition
	if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi
}
B() { "$BERTH" "$@"; }
# mounts under the test's roots but berthd's tmpfs for its monitors and runtime state (made
# where the run root is not on a tmpfs already)
our_mounts() {
	findmnt -rn -o TARGET | grep "^$T/" | grep -vxF -e "$BERTH_RUN/containers" -e "$BERTH_RUN/runtime"
}
# what a container leaves: mounts under the state root, cgroups, monitor and runtime state
leftovers() { # ids...
	local n=0 id d
	n=$((n + $(our_mounts | wc -l)))
	for id in "$@"; do
		for d in /sys/fs/cgroup/berth /sys/fs/cgroup/*/berth; do
			[ -e "$d/$id" ] && n=$((n + 1))
		done
		[ -e "$BERTH_RUN/containers/$id" ] && n=$((n + 1))
		[ -e "$BERTH_RUN/runtime/$id" ] && n=$((n + 1))
		[ -e "$BERTH_ROOT/containers/$id" ] && n=$((n + 1))
	done
	echo $n
}
restart_berthd() { # kill -9, then any command starts it again
	kill -9 "$(berthd_pid)"
	sleep 0.2
	B ps >/dev/null
}
wait_for() { # condition, tries of 0.1 s
	local i
	for i in $(seq "${2:-100}"); do eval "$1" && return 0; sleep 0.1; done
	return 1
}

sh "$SRC/tests/images/build.sh" "$T/img" >/dev/null || { echo "FAIL building the test images"; exit 1; }
B load -i "$T/img/busybox-docker.tar" >/dev/null

# ---- the daemon
out=$(B run --rm busybox echo hi 2>&1)
check "the first command starts berthd by itself and runs the container" "[ \"$out\" = hi ]"
check "the socket is mode 0660, owned by root" \
	"[ \"\$(stat -c '%a %U' $SOCK)\" = '660 root' ]"
check "version reports the client and the daemon" \
	"B version | grep -q '^Client:' && B version | grep -q '^Server: berthd'"
check "info reports the daemon's counts and roots" \
	"B info | grep -q 'Containers: 0' && B info --format '{{.DockerRootDir}}' | grep -qx '$BERTH_ROOT'"
check "a second berthd refuses to run beside the first" \
	"$(dirname "$BERTH")/berthd 2>&1 | grep -q 'another berthd'"

# ---- run: exit codes as Docker's
B run --rm busybox sh -c 'exit 3'
check "run exits with the container's status" "[ $? = 3 ]"
B run -d --name k9 busybox sleep 100 >/dev/null
B kill k9 >/dev/null
check "a container killed by a signal exits 128+signal" "[ \"\$(B wait k9)\" = 137 ]"
B rm k9 >/dev/null
B run --rm nosuchimage true 2>"$T/err"
check "an unknown image exits 125 with the reason" "[ $? = 125 ] && grep -q 'No such image' $T/err"
B run --rm busybox nosuchcmd 2>"$T/err"
check "a command that is not found exits 127" "[ $? = 127 ] && grep -q 'executable file not found' $T/err"
B run --rm busybox /etc/passwd 2>"$T/err"
check "a command that cannot be executed exits 126" "[ $? = 126 ]"
B run --rm --nosuchflag busybox true 2>"$T/err"
check "an unknown flag exits 125" "[ $? = 125 ] && grep -q 'unknown flag: --nosuchflag' $T/err"
check "--rm leaves no container behind, even when the start failed" "[ -z \"\$(B ps -aq)\" ]"
out=$(B run --rm busybox sh -c 'echo out; echo err >&2' 2>"$T/err")
check "stdout and stderr reach the caller's stdout and stderr" \
	"[ \"$out\" = out ] && [ \"\$(cat $T/err)\" = err ]"
out=$(printf 'one\ntwo\n' | B run --rm -i busybox sh -c 'while read l; do echo got-$l; done' | tr '\n' ' ')
check "-i forwards stdin, and its end reaches the container" "[ \"$out\" = 'got-one got-two ' ]"
check "-t gives the container a terminal of its own devpts" \
	"[ \"\$(B run --rm -t busybox tty | tr -d '\r')\" = /dev/pts/0 ]"
# the init layer: /etc/hosts, /etc/hostname and /etc/resolv.conf are mount points of a lower
# layer shared by all, so a start makes nothing in the container's upper directory
B run -d --name initl busybox sleep 100 >/dev/null
upper=$(grep -l "containers/$(B inspect -f '{{.Id}}' initl)/rootfs" "$BERTH_ROOT"/mounts/*/target | xargs dirname)/upper
out=$(B exec -u 1000 initl sh -c 'head -1 /etc/hosts; cat /etc/hostname; head -1 /etc/passwd')
check "the init layer: hosts, hostname and resolv.conf bound, /etc readable, nothing made in the upper directory" \
	"[ \"\$out\" = \"\$(printf '127.0.0.1\tlocalhost\n%s\nroot:x:0:0:root:/root:/bin/sh' \"\$(B inspect -f '{{.Config.Hostname}}' initl)\")\" ] &&
	 [ -d '$upper' ] && [ -z \"\$(ls -A '$upper')\" ]"
id=$(B inspect -f '{{.Id}}' initl)
check "what a start makes anew (bundle, hosts, hostname, resolv.conf) is in the run's directory, not on disk" \
	"[ \"\$(ls $BERTH_ROOT/containers/\$id | sort)\" = \"\$(printf '%s\n' \$id-json.log container.json rootfs | sort)\" ] &&
	 [ -s $BERTH_RUN/containers/\$id/config.json ] && [ -s $BERTH_RUN/containers/\$id/hosts ]"
B rm -f initl >/dev/null

# ---- create, start, ps, names and ids
id=$(B create --name c1 -l team=a busybox sh -c 'echo started; sleep 100')
check "create prints a 64-hex id" "[[ $id =~ ^[0-9a-f]{64}$ ]]"
check "a created container is listed by ps -a as Created" \
	"B ps -a --format '{{.Names}} {{.Status}}' | grep -qx 'c1 Created'"
B create --name c1 busybox true >/dev/null 2>"$T/err"
check "names are unique: a second c1 is a conflict" "[ $? = 125 ] && grep -q 'already in use' $T/err"
B start "${id:0:8}" >/dev/null
check "start finds a container by a unique id prefix" \
	"[ \"\$(B inspect -f '{{.State.Status}}' c1)\" = running ]"
check "ps shows running containers with Docker's columns" \
	"B ps | head -1 | grep -q '^CONTAINER ID   IMAGE     COMMAND   ' && B ps | grep -q ' c1$'"
check "ps -q prints short ids" "[ \"\$(B ps -q)\" = ${id:0:12} ]"
check "ps --format json" "B ps --format json | grep -q '\"Names\":\"c1\"'"
B run -d --name c2 -l team=b busybox sleep 100 >/dev/null
check "ps --filter label=K=V" "[ \"\$(B ps --filter label=team=b --format '{{.Names}}')\" = c2 ]"
check "ps --filter name=" "[ \"\$(B ps --filter name=c1 --format '{{.Names}}')\" = c1 ]"
B stop -t 1 c2 >/dev/null
check "ps --filter status=exited" "[ \"\$(B ps --filter status=exited --format '{{.Names}}')\" = c2 ]"
check "ps without -a hides stopped containers" "! B ps --format '{{.Names}}' | grep -q c2"
B rename c2 c3
check "rename" "[ \"\$(B inspect -f '{{.Name}}' c3)\" = /c3 ] && ! B ps -a --format '{{.Names}}' | grep -qx c2"
check "inspect --format reads nested fields" \
	"[ \"\$(B inspect -f '{{.Config.Labels.team}} {{.HostConfig.RestartPolicy.Name}}' c1)\" = 'a no' ]"
check "inspect of an unknown container fails" "! B inspect nosuch >/dev/null 2>&1"

# ---- logs
wait_for "B logs c1 | grep -q started" 30
check "logs prints what the container wrote" "[ \"\$(B logs c1)\" = started ]"
log=$(B inspect -f '{{.LogPath}}' c1)
check "the log is Docker's json-file format" \
	"grep -qE '^\\{\"log\":\"started\\\\n\",\"stream\":\"stdout\",\"time\":\"[0-9T:.-]+Z\"\\}$' $log"
B run -d --name lg busybox sh -c 'for i in 1 2 3 4 5; do echo l$i; done; echo e1 >&2' >/dev/null
B wait lg >/dev/null
check "logs --tail 2" "[ \"\$(B logs --tail 2 lg 2>&1 | tr '\n' ' ')\" = 'l5 e1 ' ]"
check "logs keeps stdout and stderr apart" "[ \"\$(B logs lg 2>/dev/null | wc -l)\" = 5 ]"
check "logs -t prefixes RFC 3339 times" "B logs -t lg 2>/dev/null | head -1 | grep -qE '^20[0-9-]+T[0-9:.]+Z l1$'"
check "logs --since in the future shows nothing" "[ -z \"\$(B logs --since 2099-01-01 lg 2>&1)\" ]"
B run -d --name fl busybox sh -c 'for i in 1 2 3; do echo f$i; sleep 0.3; done' >/dev/null
out=$(timeout 10 "$BERTH" logs -f fl | tr '\n' ' ')
check "logs -f follows new lines and ends when the container exits" "[ \"$out\" = 'f1 f2 f3 ' ]"
B run -d --name rot --log-opt max-size=2k --log-opt max-file=2 busybox \
	sh -c 'i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done' >/dev/null
B wait rot >/dev/null
check "logs rotate at max-size, keeping max-file files" \
	"[ -e $(B inspect -f '{{.LogPath}}' rot).1 ] && [ ! -e $(B inspect -f '{{.LogPath}}' rot).2 ] && [ \$(stat -c %s $(B inspect -f '{{.LogPath}}' rot)) -le 2100 ]"
check "logs reads the rotated file too, oldest first" "B logs rot | tail -1 | grep -qx line-299"

# ---- exec, attach, wait
check "exec runs in the container and gives its output" "[ \"\$(B exec c1 hostname)\" = ${id:0:12} ]"
B exec c1 sh -c 'exit 4'
check "exec exits with the process's status" "[ $? = 4 ]"
check "exec -e -w -u" "[ \"\$(B exec -e X=y -w /tmp -u 1000 c1 sh -c 'echo \$X \$(pwd) \$(id -u)')\" = 'y /tmp 1000' ]"
check "exec -t gives the process a terminal of the container's devpts" \
	"B exec -t c1 tty | tr -d '\\r' | grep -qx '/dev/pts/[0-9]*'"
check "exec -i forwards stdin" "[ \"\$(echo piped | B exec -i c1 cat)\" = piped ]"
B exec c1 nosuchcmd 2>/dev/null
check "exec of a missing command exits 127" "[ $? = 127 ]"
B exec c3 true 2>"$T/err"
check "exec in a stopped container fails" "[ $? != 0 ] && grep -q 'is not running' $T/err"
check "exec runs under the container's seccomp filter and capabilities" \
	"B exec c1 grep -q '^Seccomp:.2' /proc/self/status && [ \"\$(B exec c1 grep CapBnd /proc/self/status)\" = \"\$(B run --rm busybox grep CapBnd /proc/self/status)\" ]"
mkdir -p "$T/cp/d/sub" && echo hostfile >"$T/cp/f" && echo y >"$T/cp/d/sub/y"
B cp "$T/cp/f" c1:/tmp/
check "cp copies a host file into a container's directory" "[ \"\$(B exec c1 cat /tmp/f)\" = hostfile ]"
B cp "$T/cp/d" c1:/tmp/newd
check "cp copies a host directory to a new path in the container" "[ \"\$(B exec c1 cat /tmp/newd/sub/y)\" = y ]"
B cp c1:/tmp/newd/. "$T/cp/out"
check "cp CONTAINER:DIR/. copies the content into a new host directory" "[ \"\$(cat $T/cp/out/sub/y)\" = y ]"
B exec c1 ln -s / /tmp/esc
B cp "$T/cp/f" c1:/tmp/esc/etc/berth-cp-test 2>/dev/null
check "cp resolves the container's symlinks inside the container, never on the host" \
	"[ ! -e /etc/berth-cp-test ] && B exec c1 test -f /etc/berth-cp-test"
rm -f /etc/berth-cp-test
B run -d --name at busybox sh -c 'sleep 0.5; echo from-attach; exit 6' >/dev/null
out=$(B attach at)
rc=$?
check "attach streams the output and exits with the container's status" "[ \"$out\" = from-attach ] && [ $rc = 6 ]"
B create --name sa busybox sh -c 'echo start-a; exit 2' >/dev/null
out=$(B start -a sa)
rc=$?
check "start -a attaches before starting: nothing is missed" "[ \"$out\" = start-a ] && [ $rc = 2 ]"
B run -d --name wt busybox sh -c 'sleep 0.3; exit 9' >/dev/null
check "wait prints the exit code" "[ \"\$(B wait wt)\" = 9 ]"

# ---- stop, kill, restart, pause, top, stats
B run -d --name st busybox sh -c 'trap "echo got-term; exit 0" TERM; while true; do sleep 0.1; done' >/dev/null
sleep 0.3
B stop st >/dev/null
check "stop sends SIGTERM, which the container may handle" \
	"[ \"\$(B inspect -f '{{.State.ExitCode}}' st)\" = 0 ] && B logs st | grep -q got-term"
B run -d --name st2 busybox sleep 100 >/dev/null
B stop -t 1 st2 >/dev/null
check "stop kills with SIGKILL after the timeout (PID 1 ignores SIGTERM)" \
	"[ \"\$(B inspect -f '{{.State.ExitCode}}' st2)\" = 137 ]"
B run -d --name sig --stop-signal USR1 busybox sh -c 'trap "exit 42" USR1; while true; do sleep 0.1; done' >/dev/null
sleep 0.3
B stop sig >/dev/null
check "--stop-signal" "[ \"\$(B inspect -f '{{.State.ExitCode}}' sig)\" = 42 ]"
B run -d --name kl busybox sh -c 'trap "exit 11" HUP; while true; do sleep 0.1; done' >/dev/null
sleep 0.3
B kill -s HUP kl >/dev/null
check "kill -s sends the signal" "[ \"\$(B wait kl)\" = 11 ]"
B restart c3 >/dev/null
check "restart starts a stopped container again" "[ \"\$(B inspect -f '{{.State.Running}}' c3)\" = true ]"
# the counter is renamed into place: a read never sees the file truncated and empty
B run -d --name pz busybox sh -c 'i=0; while true; do i=$((i+1)); echo $i > /tmp/n.new; mv /tmp/n.new /tmp/n; sleep 0.05; done' >/dev/null
sleep 0.3
B pause pz >/dev/null
check "pause freezes the container (its state is paused)" \
	"[ \"\$(B inspect -f '{{.State.Status}}' pz)\" = paused ] && B ps --format '{{.Status}}' --filter name=pz | grep -q Paused && { grep -qx FROZEN /sys/fs/cgroup/freezer/berth/\$(B inspect -f '{{.Id}}' pz)/freezer.state 2>/dev/null || grep -qx 'frozen 1' /sys/fs/cgroup/berth/\$(B inspect -f '{{.Id}}' pz)/cgroup.events 2>/dev/null; }"
check "exec into a paused container is refused" "! B exec pz true 2>$T/err && grep -q 'is paused' $T/err"
B unpause pz >/dev/null
a=$(B exec pz cat /tmp/n)
check "unpause lets it run on" \
	"[ \"\$(B inspect -f '{{.State.Status}}' pz)\" = running ] && wait_for '[ \"\$(B exec pz cat /tmp/n)\" -gt \"$a\" ]' 30"
check "top lists the container's processes" "B top c1 | grep -q 'sleep 100'"
check "stats --no-stream shows memory and pids" "B stats --no-stream c1 | grep -qE '^${id:0:12} +c1 +[0-9.]+% +[0-9.]+[KMG]?i?B / '"

# ---- the container's configuration
check "-e, --env-file, -w, -u, -h" \
	"printf 'F=file\n# comment\n' >$T/envf && [ \"\$(B run --rm -e A=1 --env-file $T/envf -w /tmp -u 1000:1000 -h hh busybox sh -c 'echo \$A \$F \$(pwd) \$(id -u):\$(id -g) \$(hostname)')\" = '1 file /tmp 1000:1000 hh' ]"
check "--entrypoint replaces the image's entrypoint and command" \
	"[ \"\$(B run --rm --entrypoint /bin/echo busybox a b)\" = 'a b' ]"
check "--memory limits the cgroup" \
	"B run --rm --memory 64m busybox cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null | grep -qx 67108864"
check "--pids-limit limits the cgroup" \
	"B run --rm --pids-limit 20 busybox cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null | grep -qx 20"
check "--cpus sets the CFS quota" \
	"B run --rm --cpus 0.5 busybox sh -c 'cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu.max 2>/dev/null' | grep -qE '^50000'"
check "--ulimit" "[ \"\$(B run --rm --ulimit nofile=100:200 busybox sh -c 'ulimit -n')\" = 100 ]"
check "--sysctl" "[ \"\$(B run --rm --sysctl net.ipv4.ip_forward=1 busybox cat /proc/sys/net/ipv4/ip_forward)\" = 1 ]"
check "--read-only" "! B run --rm --read-only busybox touch /x 2>/dev/null"
check "--tmpfs" "B run --rm --read-only --tmpfs /scratch busybox sh -c 'touch /scratch/x && grep -q \" /scratch tmpfs \" /proc/mounts'"
check "--shm-size" "B run --rm --shm-size 1m busybox df -k /dev/shm | grep -qE ' 1024 +[0-9]+ +[0-9]+'"
check "--cap-drop removes a capability" "! B run --rm --cap-drop CHOWN busybox chown 1 /tmp 2>/dev/null"
check "--cap-add adds one" "B run --rm --cap-add NET_ADMIN busybox ip link set lo down"
check "--privileged keeps every capability" \
	"[ \"\$(B run --rm --privileged busybox grep CapBnd /proc/self/status)\" = \"\$(grep CapBnd /proc/self/status)\" ]"
check "--security-opt no-new-privileges" \
	"B run --rm --security-opt no-new-privileges busybox grep -q 'NoNewPrivs:.1' /proc/self/status"
check "--security-opt seccomp=unconfined" \
	"B run --rm --security-opt seccomp=unconfined busybox grep -q 'Seccomp:.0' /proc/self/status"
check "--network host shares the host's network namespace; none has its own with only lo" \
	"[ \"\$(B run --rm --network host busybox readlink /proc/self/ns/net)\" = \"\$(readlink /proc/self/ns/net)\" ] && [ \"\$(B run --rm --network none busybox ls /sys/class/net)\" = lo ] && [ \"\$(B run --rm --network none busybox readlink /proc/self/ns/net)\" != \"\$(readlink /proc/self/ns/net)\" ]"
B run -d --name in --init busybox sh -c '(sleep 0 &); sleep 100' >/dev/null
sleep 0.5
check "--init runs tini as PID 1, which reaps orphans" \
	"B exec in cat /proc/1/cmdline | tr '\\0' ' ' | grep -q '^/sbin/docker-init -- sh' && ! B exec in ps -o stat | grep -q Z"

# ---- volumes
mkdir -p "$T/bind"
B run --rm -v "$T/bind:/data" busybox sh -c 'echo hello > /data/f'
check "-v HOST:CTR binds a host directory" "[ \"\$(cat $T/bind/f)\" = hello ]"
check "-v HOST:CTR:ro is read-only" "! B run --rm -v $T/bind:/data:ro busybox touch /data/g 2>/dev/null"
B run --rm -v vol1:/etc busybox true
check "a named volume is filled from the image's content on first use" "[ -f $BERTH_ROOT/volumes/vol1/_data/passwd ]"
B run --rm -v vol1:/etc busybox sh -c 'echo kept > /etc/mine'
check "a named volume keeps data across containers" "[ \"\$(B run --rm -v vol1:/v busybox cat /v/mine)\" = kept ]"
check "volume ls and inspect" \
	"B volume ls | grep -qE '^local +vol1$' && B volume inspect vol1 | grep -q '\"Mountpoint\": \"$BERTH_ROOT/volumes/vol1/_data\"'"
check "volume create --label" "B volume create -l k=v vol2 >/dev/null && B volume inspect vol2 | grep -q '\"k\": \"v\"'"
B run -d --name vu -v vol2:/v busybox sleep 100 >/dev/null
check "volume rm of a volume in use fails" "! B volume rm vol2 2>/dev/null"
B rm -f vu >/dev/null
check "volume rm" "B volume rm vol1 vol2 >/dev/null && [ -z \"\$(B volume ls -q)\" ]"
B run -d --name anon --mount type=volume,target=/a busybox true >/dev/null
B wait anon >/dev/null
av=$(B inspect -f '{{json .Mounts}}' anon | grep -oE '[0-9a-f]{64}' | head -1)
B rm -v anon >/dev/null
check "rm -v removes the container's anonymous volume" "[ -n \"$av\" ] && [ ! -e $BERTH_ROOT/volumes/$av ]"
B volume create pv >/dev/null
B volume create "$(printf '%064d' 7)" >/dev/null
B volume prune >/dev/null
check "volume prune removes unused anonymous volumes, -a named ones too" \
	"[ \"\$(B volume ls -q)\" = pv ] && B volume prune -a >/dev/null && [ -z \"\$(B volume ls -q)\" ]"

# ---- restart policies and health checks
B run -d --name of --restart on-failure:3 busybox sh -c 'echo run; exit 1' >/dev/null
wait_for "[ \"\$(B inspect -f '{{.State.Status}}' of)\" = exited ] && [ \"\$(B inspect -f '{{.RestartCount}}' of)\" = 3 ]" 100
sleep 1.5
check "on-failure:3 restarts exactly 3 times" \
	"[ \"\$(B inspect -f '{{.RestartCount}}' of)\" = 3 ] && [ \"\$(B logs of | wc -l)\" = 4 ]"
B run -d --name ok --restart on-failure busybox true >/dev/null
sleep 0.5
check "on-failure does not restart after exit 0" "[ \"\$(B inspect -f '{{.RestartCount}}' ok)\" = 0 ]"
B run -d --name al --restart always busybox sh -c 'sleep 0.2' >/dev/null
wait_for "[ \$(B inspect -f '{{.RestartCount}}' al) -ge 2 ]" 50
check "always restarts after each exit, with back-off" "[ \$(B inspect -f '{{.RestartCount}}' al) -ge 2 ]"
B stop al >/dev/null
n=$(B inspect -f '{{.RestartCount}}' al)
sleep 1
check "a stopped always container stays stopped" \
	"[ \"\$(B inspect -f '{{.State.Status}}' al)\" = exited ] && [ \"\$(B inspect -f '{{.RestartCount}}' al)\" = $n ]"
B rm -f al >/dev/null
B run -d --name hu --health-cmd 'exit 1' --health-interval 300ms --health-retries 3 busybox sleep 100 >/dev/null
check "a health check starts as starting" "[ \"\$(B inspect -f '{{.State.Health.Status}}' hu)\" = starting ]"
wait_for "[ \"\$(B inspect -f '{{.State.Health.Status}}' hu)\" = unhealthy ]" 40
check "a failing health check turns unhealthy after interval x retries" \
	"[ \"\$(B inspect -f '{{.State.Health.Status}}' hu)\" = unhealthy ] && [ \$(B inspect -f '{{.State.Health.FailingStreak}}' hu) -ge 3 ]"
check "ps shows the health" "B ps --filter name=hu --format '{{.Status}}' | grep -q '(unhealthy)'"
timeout 5 "$BERTH" events >"$T/events" &
evpid=$!
sleep 0.3
B run -d --name hh --health-cmd 'echo fine' --health-interval 200ms busybox sleep 100 >/dev/null
wait_for "[ \"\$(B inspect -f '{{.State.Health.Status}}' hh)\" = healthy ]" 30
check "a passing health check turns healthy, with its output in the log" \
	"[ \"\$(B inspect -f '{{.State.Health.Status}}' hh)\" = healthy ] && B inspect hh | grep -q '\"Output\": \"fine'"
sleep 0.3
kill $evpid 2>/dev/null
wait $evpid 2>/dev/null
check "events streams create, start and health_status" \
	"grep -q 'container create' $T/events && grep -q 'container start' $T/events && grep -q 'container health_status: healthy' $T/events"
check "--no-healthcheck" \
	"B run -d --name nh --no-healthcheck busybox sleep 100 >/dev/null && [ \"\$(B inspect -f '{{.State.Health}}' nh)\" = '<no value>' ]"
B rm -f hu hh nh of ok >/dev/null

# ---- rm
B run -d --name rmf busybox sleep 100 >/dev/null
rid=$(B inspect -f '{{.Id}}' rmf)
B rm rmf 2>"$T/err"
check "rm of a running container fails without -f" "[ $? != 0 ] && grep -q 'container is running' $T/err"
B rm -f rmf >/dev/null
check "rm -f of a running container leaves nothing" \
	"! B inspect rmf >/dev/null 2>&1 && [ \$(leftovers $rid) = \$(our_mounts | wc -l) ] && [ ! -e $BERTH_ROOT/containers/$rid ]"

# ---- berthd goes away; the containers do not
for id in $(B ps -aq); do B rm -f "$id" >/dev/null; done
for i in 1 2 3 4 5; do
	B run -d --name k$i busybox sh -c 'i=0; while true; do echo tick-$i; i=$((i+1)); sleep 0.1; done' >/dev/null
done
kill -9 "$(berthd_pid)"
sleep 1
check "kill -9 of berthd leaves the 5 containers and their monitors running" \
	"[ \$(pgrep -cf 'berth-monitor $BERTH_RUN/containers') = 5 ]"
before=$(B logs k1 | wc -l)
check "a new berthd reattaches: ps shows all 5 running" "[ \$(B ps -q | wc -l) = 5 ]"
check "logs hold the lines written while berthd was down" "[ $before -ge 8 ]"
out=$(timeout 3 "$BERTH" logs -f --tail 0 k2 | head -2 | wc -l)
check "logs -f goes on after the reattach" "[ $out = 2 ]"
B stop -t 1 k1 k2 k3 k4 k5 >/dev/null
check "stop works after the reattach" "[ -z \"\$(B ps -q)\" ]"
B run -d --name ex busybox sh -c 'sleep 0.5; exit 13' >/dev/null
kill -9 "$(berthd_pid)"
sleep 1
check "a container that exited while berthd was away shows its real exit code" \
	"[ \"\$(B inspect -f '{{.State.Status}} {{.State.ExitCode}}' ex)\" = 'exited 13' ]"
B run -d --name big busybox sh -c 'L=$(printf "%01000d" 0); yes $L | head -c 100000000; echo; echo big-done' >/dev/null
kill -9 "$(berthd_pid)"
sleep 4
check "a container that writes 100 MB while berthd is down does not block" \
	"B logs --tail 1 big | grep -q big-done && [ \"\$(B inspect -f '{{.State.Status}}' big)\" = exited ]"
B rm big >/dev/null
B run -d --name us --restart unless-stopped busybox sleep 100 >/dev/null
B run -d --name aw --restart always busybox sleep 100 >/dev/null
B run -d --name usx --restart unless-stopped busybox sleep 100 >/dev/null
B stop -t 0 usx >/dev/null
kill -9 "$(berthd_pid)"
pkill_mon() { # kills the monitors (and so the containers) as a reboot would
	for p in $(our_pids); do kill -9 "$p" 2>/dev/null; done
	sleep 0.5
	for id in $(ls "$BERTH_RUN/runtime"); do "$BERTH" runtime --root "$BERTH_RUN/runtime" delete -f "$id" >/dev/null 2>&1; done
}
pkill_mon
B ps >/dev/null
wait_for "[ \"\$(B inspect -f '{{.State.Running}}' us)\" = true ] && [ \"\$(B inspect -f '{{.State.Running}}' aw)\" = true ]" 30
check "at daemon start, always and unless-stopped containers come back" \
	"[ \"\$(B inspect -f '{{.State.Running}}' us)\" = true ] && [ \"\$(B inspect -f '{{.State.Running}}' aw)\" = true ]"
check "... but not an unless-stopped container stopped by hand" "[ \"\$(B inspect -f '{{.State.Running}}' usx)\" = false ]"
for id in $(B ps -aq); do B rm -f "$id" >/dev/null; done

# ---- crashes at any instant: the next berthd repairs the state
for i in $(seq 12); do
	B run -d --name cr$i busybox sleep 100 >/dev/null 2>&1 &
	cpid=$!
	sleep "0.0$((RANDOM % 10))"
	kill -9 "$(berthd_pid)" 2>/dev/null
	wait $cpid 2>/dev/null
	B ps >/dev/null
	[ $((i % 3)) = 0 ] && { B stop -t 0 "cr$i" >/dev/null 2>&1 & sleep "0.0$((RANDOM % 5))"; kill -9 "$(berthd_pid)"; wait; B ps >/dev/null; }
	[ $((i % 4)) = 0 ] && { B rm -f "cr$i" >/dev/null 2>&1 & sleep "0.0$((RANDOM % 5))"; kill -9 "$(berthd_pid)"; wait; B ps >/dev/null; }
done
bad=0
for id in $(B ps -aq --no-trunc); do
	s=$(B inspect -f '{{.State.Status}}' "$id")
	case $s in
	running) [ -e "$BERTH_RUN/containers/$id/monitor.sock" ] || { bad=$((bad + 1)); echo "  $id: running without a monitor"; } ;;
	created | exited) [ -e "$BERTH_RUN/containers/$id" ] && { bad=$((bad + 1)); echo "  $id: $s with a monitor's directory"; } ;;
	*) bad=$((bad + 1)); echo "  $id: $s" ;;
	esac
done
running=$(B ps -q | wc -l)
check "after kill -9 of berthd during run, stop and rm: no container is stuck half-way" "[ $bad = 0 ]"
check "... only running containers have a mounted root filesystem" \
	"[ \$(findmnt -rn -o TARGET | grep -c \"^$T/root/containers/\") = $running ]"
ids=$(B ps -aq --no-trunc | tr "\n" " ")
for id in $ids; do B rm -f "$id" >/dev/null; done
check "... and rm -f of them all leaves nothing" "[ \$(leftovers $ids) = 0 ] && [ -z \"\$(ls $BERTH_RUN/runtime)\" ]"

# ---- malformed requests get a 4xx; berthd goes on serving
r() { "$RAW" "$SOCK" "$@"; }
check "bad HTTP gets 400" "printf 'NOT HTTP AT ALL\r\n\r\n' | r | head -1 | grep -q '^HTTP/1.1 400'"
check "bad JSON gets 400" \
	"printf 'POST /v1/containers/create HTTP/1.1\r\nContent-Length: 5\r\n\r\n{oops' | r | head -1 | grep -q '^HTTP/1.1 400'"
body='{"Image":"busybox","HostConfig":{"Memory":"x"}}'
check "a field of the wrong type gets 400 naming it" \
	"printf 'POST /v1/containers/create HTTP/1.1\r\nContent-Length: ${#body}\r\n\r\n%s' '$body' | r | grep -q 'HostConfig.Memory: expected an integer, got a string'"
check "a body over the limit gets 413" \
	"printf 'POST /v1/containers/create HTTP/1.1\r\nContent-Length: 20000000\r\n\r\n{' | r | head -1 | grep -q '^HTTP/1.1 413'"
check "headers over the limit get 431" \
	"{ printf 'GET /v1/info HTTP/1.1\r\nX: '; head -c 70000 /dev/zero | tr '\\0' a; printf '\r\n\r\n'; } | r | head -1 | grep -q '^HTTP/1.1 431'"
printf 'GET /v1/info HTTP/1.1\r\nHost: x\r\n' | r 4000 >"$T/slow" &
slow=$!
sleep 0.2
check "a slow client does not hold others up" "B ps >/dev/null"
wait $slow
check "a slow client gets 408" "head -1 $T/slow | grep -q '^HTTP/1.1 408'"
check "an unknown path gets 404" "printf 'GET /v1/nope HTTP/1.1\r\n\r\n' | r | head -1 | grep -q '^HTTP/1.1 404'"

# ---- images through the API: reads never wait, changes run in a worker
check "GET /images/json lists the images" "printf 'GET /v1/images/json HTTP/1.1\r\n\r\n' | r | grep -q '\"busybox:latest\"'"
check "GET /images/NAME/json inspects one" \
	"printf 'GET /v1/images/busybox/json HTTP/1.1\r\n\r\n' | r | grep -q '\"Id\":\"sha256:'"
check "POST /images/NAME/tag" \
	"printf 'POST /v1/images/busybox/tag?repo=mine/bb&tag=2 HTTP/1.1\r\n\r\n' | r | head -1 | grep -q ' 200 ' && B images | grep -qE '^mine/bb +2 '"
check "DELETE /images/NAME untags" \
	"printf 'DELETE /v1/images/mine/bb:2 HTTP/1.1\r\n\r\n' | r | grep -q '\"Untagged\":\"mine/bb:2\"'"
B run -d --name user busybox sleep 100 >/dev/null
check "DELETE of an image a running container uses is refused, even with force" \
	"printf 'DELETE /v1/images/busybox?force=1 HTTP/1.1\r\n\r\n' | r | head -1 | grep -q ' 409 '"
B rm -f user >/dev/null
mkfifo "$T/fifo"
printf 'POST /v1/images/load?path=%s HTTP/1.1\r\n\r\n' "$T/fifo" | r >"$T/loadout" &
loader=$!
sleep 0.3
check "while a load holds the store, berthd serves others and starts containers" \
	"timeout 10 $BERTH ps >/dev/null && [ \"\$(timeout 10 $BERTH run --rm busybox echo during)\" = during ]"
cat "$T/img/busybox-oci.tar" >"$T/fifo"
wait $loader
check "POST /images/load loads an archive in a worker" \
	"head -1 $T/loadout | grep -q ' 200 ' && grep -q 'busybox:latest' $T/loadout"

# ---- 100 containers at once
for i in $(seq 100); do B run -d --name m$i busybox sleep 1000 >/dev/null & done
wait
check "100 containers started at once all run" "[ \$(B ps -q | wc -l) = 100 ]"
B stop -t 1 $(B ps -q) >/dev/null
check "... and all stop" "[ -z \"\$(B ps -q)\" ] && [ \$(B ps -aq | wc -l) = 100 ]"
ids=$(B ps -aq --no-trunc | tr "\n" " ")
B rm $ids >/dev/null
check "... and rm leaves nothing" "[ \$(leftovers $ids) = 0 ]"

# ---- output is never lost, even when exits and removals race with it
(for i in $(seq 50); do B run -d busybox true >/dev/null; done) &
busy=$!
lost=0
for i in $(seq 20); do
	[ "$(B run --rm busybox echo x)" = x ] || lost=$((lost + 1))
	[ "$(B run --rm -t busybox echo y | tr -d '\r')" = y ] || lost=$((lost + 1))
done
wait $busy
check "run --rm delivers all the output under load, with and without -t" "[ $lost = 0 ]"
ids=$(B ps -aq --no-trunc | tr "\n" " ")
B rm -f $ids >/dev/null

echo
if [ $fails = 0 ]; then echo "all berthd tests passed"; else echo "$fails berthd test(s) failed"; fi
[ $fails = 0 ]
