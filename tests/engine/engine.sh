#!/bin/bash
# Integration tests of the image store and the OCI runtime, as root, with
# real overlay mounts, namespaces, cgroups and seccomp filters.
# Usage: engine.sh BERTH SOURCE_DIR
set -u
BERTH=$(realpath "$1")
SRC=$2
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: the engine's tests need root (namespaces, mounts, cgroups)"
	exit 77
fi
T=$(mktemp -d /tmp/berth-engine-test.XXXXXX)
export BERTH_ROOT=$T/root BERTH_RUN=$T/run
fails=0
cleanup() {
	for s in "$BERTH_RUN"/runtime/*/; do
		[ -d "$s" ] && "$BERTH" runtime delete -f "$(basename "$s")" >/dev/null 2>&1
	done
	for m in $(findmnt -rn -o TARGET | grep "^$T/" | sort -r); do umount -l "$m"; done
	rm -rf "$T"
}
trap cleanup EXIT
check() { # name, condition
	if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi
}
B() { "$BERTH" "$@"; }

sh "$SRC/tests/images/build.sh" "$T/img" >/dev/null || { echo "FAIL building the test images"; exit 1; }
BB_ID=$(awk '/busybox/ {print $4}' "$T/img/ids")

# ---- the image store
B load -i "$T/img/busybox-docker.tar" >"$T/out" 2>&1
check "load docker save (Docker >= 25) tar with two images" \
	"grep -q 'Loaded image: busybox:latest' $T/out && grep -q 'Loaded image: whiteout:latest' $T/out"
B load <"$T/img/busybox-oci.tar" >"$T/out" 2>&1
check "load an OCI layout tar from stdin" "grep -q 'Loaded image: busybox:latest' $T/out"
B load -i "$T/img/busybox-legacy.tar" >"$T/out" 2>&1
check "load a legacy docker save tar" "grep -q 'Loaded image: busybox:legacy' $T/out"
check "the same image id from all three formats" \
	"[ \"\$(B images -q --no-trunc | sort -u | grep -c $BB_ID)\" = 1 ]"
check "layers are shared: one directory per chain id" "[ \$(ls $BERTH_ROOT/layers | wc -l) = 2 ]"
check "images table" "B images | grep -qE '^busybox +latest +${BB_ID:7:12} '"
check "images --format json" "B images --format json | grep -q '\"Repository\":\"whiteout\"'"
check "image inspect shows the config" "B image inspect busybox | grep -q '\"org.berth.test\": \"yes\"'"
B tag busybox mine/bb:1
check "tag" "B images | grep -qE '^mine/bb +1 '"
check "rmi of one of several tags only untags" "B rmi mine/bb:1 | grep -q 'Untagged: mine/bb:1' && B image inspect busybox >/dev/null"
check "import a root filesystem tar" "B import $T/img/busybox-rootfs.tar imp:1 | grep -q '^sha256:'"
check "rmi of an unknown image fails" "! B rmi nosuch 2>$T/err && grep -q 'No such image: nosuch' $T/err"

before=$(cat "$BERTH_ROOT/images.json")
head -c 400000 "$T/img/busybox-docker.tar" >"$T/trunc.tar"
B load -i "$T/trunc.tar" >"$T/out" 2>&1
rc=$?
check "a truncated tar is an error" "[ $rc -ne 0 ] && grep -qi 'truncated' $T/out"
check "... that leaves the store as it was" \
	"[ \"\$(cat $BERTH_ROOT/images.json)\" = \"\$before\" ] && [ -z \"\$(ls $BERTH_ROOT/tmp)\" ] && ! ls $BERTH_ROOT/layers | grep -q tmp-"

mkdir "$T/bad" && tar -xf "$T/img/busybox-oci.tar" -C "$T/bad"
big=$(ls -S "$T/bad/blobs/sha256" | head -1)
printf 'X' | dd of="$T/bad/blobs/sha256/$big" bs=1 seek=100 conv=notrunc 2>/dev/null
(cd "$T/bad" && tar -cf "$T/bad.tar" .)
B rmi -f busybox:latest busybox:legacy imp:1 >/dev/null 2>&1
B load -i "$T/bad.tar" >"$T/out" 2>&1
rc=$?
check "a layer whose digest does not match is refused" "[ $rc -ne 0 ] && grep -qE 'digest mismatch|corrupt' $T/out"
check "... and no image appears" "! B images | grep -q '^busybox '"

# a crash in the middle of a load: debris in tmp/ and layers/tmp-*, removed by the next run
mkdir -p "$BERTH_ROOT/tmp/load-crashed/x" "$BERTH_ROOT/layers/tmp-deadbeef-1/diff"
B images >/dev/null
check "debris of a crashed load is removed by the next run" \
	"[ ! -e $BERTH_ROOT/tmp/load-crashed ] && [ ! -e $BERTH_ROOT/layers/tmp-deadbeef-1 ]"

mkdir -p "$T/evil" && echo x >"$T/evil/f" && ln -s / "$T/evil/lnk" && ln -s ../../.. "$T/evil/up"
(cd "$T/evil" && tar -P --transform 's,^f$,../escape,' -cf "$T/e1.tar" f 2>/dev/null &&
	tar -P --transform 's,^f$,/abs,' -cf "$T/e2.tar" f 2>/dev/null &&
	tar -cf "$T/e3.tar" lnk && tar -P --transform 's,^f$,lnk/tmp/pwned,' -rf "$T/e3.tar" f 2>/dev/null &&
	tar -cf "$T/e4.tar" up)
for n in 1 2 3 4; do
	B import "$T/e$n.tar" evil:$n >"$T/out$n" 2>&1
	echo "rc=$?" >>"$T/out$n"
done
check "a tar entry with '..' is refused" "grep -q \"refusing path with '..'\" $T/out1 && ! grep -q rc=0 $T/out1"
check "a tar entry with an absolute path is refused" "grep -q 'refusing absolute path' $T/out2 && ! grep -q rc=0 $T/out2"
check "writing through a symlink is refused" "! grep -q rc=0 $T/out3 && [ ! -e /tmp/pwned ]"
check "a symlink that leads out of the layer is refused" "grep -q 'leads out of the layer' $T/out4 && ! grep -q rc=0 $T/out4"
check "nothing of the refused imports is left" "! B images | grep -q evil && ! ls $BERTH_ROOT/layers | grep -q tmp-"

B load -i "$T/img/busybox-docker.tar" >/dev/null

# ---- root filesystems and the runtime
bundle() { # dir image [spec flags...] [-- cmd...]
	local d=$1 img=$2
	shift 2
	mkdir -p "$d" && B mount "$img" "$d/rootfs" && (cd "$d" && B runtime spec --image "$img" "$@")
}
run_in() { # dir id -> output of the container in $T/run.out, status in $T/run.rc
	B runtime run --bundle "$1" "$2" >"$T/run.out" 2>&1
	echo $? >"$T/run.rc"
}

bundle "$T/b1" busybox -- sh -c 'echo pid=$$; hostname; grep -E "^(CapEff|Seccomp):" /proc/1/status;
	berth-probe syscall unshare; berth-probe syscall keyctl; berth-probe syscall clone3;
	echo keys=$(cat /proc/keys | wc -c); echo fw=$(ls /sys/firmware | wc -l);
	echo x >/proc/sys/kernel/domainname 2>/dev/null && echo sysrw || echo sysro;
	touch /rootfile && echo rootrw; ls /dev; id -u'
run_in "$T/b1" t1
out=$T/run.out
check "run exits 0" "[ \$(cat $T/run.rc) = 0 ]"
check "the process is PID 1" "grep -q '^pid=1$' $out"
check "hostname from the spec" "grep -qx berth $out"
check "CapEff of PID 1 is Docker's default set" "grep -q 'CapEff:.*00000000a80425fb' $out"
check "seccomp filter mode (Seccomp: 2)" "grep -qE 'Seccomp:\s+2' $out"
check "unshare is blocked with EPERM" "[ \"\$(sed -n 5p $out)\" = EPERM ]"
check "keyctl is blocked with EPERM" "[ \"\$(sed -n 6p $out)\" = EPERM ]"
check "clone3 answers ENOSYS (so libc falls back to clone)" "[ \"\$(sed -n 7p $out)\" = ENOSYS ]"
check "masked /proc/keys reads empty" "grep -qx keys=0 $out"
check "masked /sys/firmware is empty" "grep -qx fw=0 $out"
check "/proc/sys is read-only" "grep -qx sysro $out"
check "the root is writable by default" "grep -qx rootrw $out"
check "/dev holds the default nodes" "grep -qx null $out && grep -qx urandom $out && grep -qx pts $out && grep -qx shm $out"
check "the seccomp filter was cached" "ls $BERTH_ROOT/cache/seccomp/*.bpf >/dev/null 2>&1"
check "after run: no state, no cgroup" \
	"[ -z \"\$(ls $BERTH_RUN/runtime)\" ] && [ ! -e /sys/fs/cgroup/memory/berth/t1 ] && [ ! -e /sys/fs/cgroup/berth/t1 ]"

# whiteouts
bundle "$T/b2" whiteout -- sh -c 'ls /etc/berth-deleted 2>&1; ls /opt/replaced'
run_in "$T/b2" t2
check "a whiteout hides the lower layer's file" "grep -q 'berth-deleted: No such file' $T/run.out"
check "an opaque whiteout replaces the directory" "[ \"\$(tail -1 $T/run.out)\" = new.txt ]"

# read-only root, user switch, no-new-privileges
bundle "$T/b3" busybox --read-only --security-opt no-new-privileges -- sh -c 'touch /x 2>/dev/null && echo rw || echo ro; grep NoNewPrivs /proc/self/status; touch /tmp/y 2>/dev/null && echo tmprw || echo tmpro'
run_in "$T/b3" t3
check "read-only root" "grep -qx ro $T/run.out"
check "no_new_privs is set" "grep -qE 'NoNewPrivs:\s+1' $T/run.out"
bundle "$T/b4" busybox -- berth-probe ids
sed -i 's/"uid": 0/"uid": 1000/; s/"gid": 0/"gid": 1000, "additionalGids": [2000]/' "$T/b4/config.json"
run_in "$T/b4" t4
check "user, group and additional groups" "grep -qx '1000 1000 2000' $T/run.out"

# limits
bundle "$T/b5" busybox -- berth-probe alloc 256
sed -i 's/"resources": {/"resources": {"memory": {"limit": 33554432, "swap": 33554432},/' "$T/b5/config.json"
run_in "$T/b5" t5
check "past the memory limit the process is OOM-killed (137)" "[ \$(cat $T/run.rc) = 137 ] && ! grep -q allocated $T/run.out"
check "the runtime reports the OOM kill" "grep -q 'out of memory' $T/run.out"
bundle "$T/b6" busybox -- berth-probe fork 40
sed -i 's/"resources": {/"resources": {"pids": {"limit": 10},/' "$T/b6/config.json"
run_in "$T/b6" t6
check "the pids limit holds" "n=\$(head -1 $T/run.out); [ \"\$n\" -lt 10 ] 2>/dev/null"

# create / start / state / kill / delete
bundle "$T/b7" busybox -- sleep 60
B runtime create --bundle "$T/b7" --pid-file "$T/b7/pid" c7 </dev/null >/dev/null 2>&1
check "create leaves the container created" "B runtime state c7 | grep -q '\"status\": \"created\"'"
check "--pid-file holds the init's pid" "[ \"\$(cat $T/b7/pid)\" = \"\$(B runtime state c7 | sed -n 's/.*\"pid\": \\([0-9]*\\).*/\\1/p')\" ]"
B runtime start c7
check "start makes it running" "B runtime state c7 | grep -q '\"status\": \"running\"'"
check "list shows it" "B runtime list | grep -qE '^c7 .* running '"
check "delete refuses a running container" "! B runtime delete c7 2>/dev/null"
B runtime kill c7 KILL
for i in $(seq 50); do B runtime state c7 | grep -q stopped && break; sleep 0.05; done
check "kill stops it" "B runtime state c7 | grep -q '\"status\": \"stopped\"'"
B runtime delete c7
check "delete leaves no state and no cgroup" \
	"! B runtime state c7 2>/dev/null && [ ! -e /sys/fs/cgroup/memory/berth/c7 ] && [ ! -e /sys/fs/cgroup/pids/berth/c7 ]"

# failures on the container's side and bad input
bundle "$T/b8" busybox -- /bin/nope
run_in "$T/b8" t8
check "exec of a missing program: one clear message, non-zero exit" \
	"[ \$(cat $T/run.rc) != 0 ] && grep -q 'exec /bin/nope: No such file or directory' $T/run.out"
check "... and nothing left" "[ -z \"\$(ls $BERTH_RUN/runtime)\" ]"
mkdir -p "$T/b9" && echo '{"ociVersion": ' >"$T/b9/config.json"
check "invalid config.json: file:line:column" "! B runtime run --bundle $T/b9 t9 2>$T/err && grep -qE 'config.json:[0-9]+:[0-9]+: ' $T/err"
cp "$T/b1/config.json" "$T/b9/config.json"
sed -i 's|"path": "rootfs"|"path": "/nonexistent"|' "$T/b9/config.json"
check "a missing root is an error" "! B runtime run --bundle $T/b9 t9 2>$T/err && grep -q 'nonexistent' $T/err"
cp "$T/b1/config.json" "$T/b9/config.json" && ln -s "$T/b1/rootfs" "$T/b9/rootfs"
sed -i '0,/"CAP_CHOWN"/s//"CAP_NOPE"/' "$T/b9/config.json"
check "an unknown capability is an error" "! B runtime run --bundle $T/b9 t9 2>$T/err && grep -q 'unknown capability \"CAP_NOPE\"' $T/err"
cp "$T/b1/config.json" "$T/b9/config.json"
sed -i '0,/"accept",/s//"acept",/' "$T/b9/config.json"
check "an unknown syscall name is an error" "! B runtime run --bundle $T/b9 t9 2>$T/err && grep -q 'unknown syscall name \"acept\"' $T/err"
check "... none of them leaves state behind" "[ -z \"\$(ls $BERTH_RUN/runtime)\" ]"
cap_drop_out=$(cd "$T" && mkdir -p b10 && cd b10 && B runtime spec --cap-drop NOPE 2>&1)
check "spec --cap-drop of an unknown capability is an error" "echo '$cap_drop_out' | grep -q 'unknown capability'"

# privileged and cap changes
bundle "$T/b11" busybox --privileged -- sh -c 'grep -E "^(CapEff|Seccomp):" /proc/self/status'
run_in "$T/b11" t11
check "privileged: every capability, no seccomp" "grep -qE 'Seccomp:\s+0' $T/run.out && ! grep -q 'CapEff:.*a80425fb' $T/run.out"
bundle "$T/b12" busybox --cap-drop ALL --cap-add NET_BIND_SERVICE -- sh -c 'grep -E "^CapEff:" /proc/self/status'
run_in "$T/b12" t12
check "cap-drop ALL + cap-add NET_BIND_SERVICE" "grep -q 'CapEff:.*0000000000000400' $T/run.out"
bundle "$T/b13" busybox --cap-add SYS_ADMIN -- berth-probe syscall unshare
run_in "$T/b13" t13
check "cap-add SYS_ADMIN also opens unshare in seccomp, as Docker does" "grep -qx ok $T/run.out"

# the same bundle under crun: the same isolation inside
if command -v crun >/dev/null; then
	bundle "$T/b14" busybox -- sh -c 'hostname; grep -E "^(CapEff|CapBnd|CapPrm|Seccomp):" /proc/self/status; awk "{print \$2, \$3}" /proc/self/mounts | sort'
	run_in "$T/b14" t14
	cp "$T/run.out" "$T/berth.out"
	if mountpoint -q /sys/fs/cgroup/unified; then
		unshare -m sh -c "umount /sys/fs/cgroup/unified && exec crun --root $T/crun run --bundle $T/b14 t14" >"$T/crun.out" 2>&1
	else
		crun --root "$T/crun" run --bundle "$T/b14" t14 >"$T/crun.out" 2>&1
	fi
	check "berth and crun: same hostname, capabilities, seccomp mode and mounts" "diff $T/berth.out $T/crun.out"
else
	echo "SKIP crun comparison: crun is not installed"
fi

for d in "$T"/b*/rootfs; do mountpoint -q "$d" && B umount "$d"; done
check "umount removes the overlay and its upper directory" \
	"! findmnt -rn -o TARGET | grep -q '^$T/' && [ -z \"\$(ls $BERTH_ROOT/mounts)\" ]"
check "no berth cgroup is left" "[ ! -e /sys/fs/cgroup/memory/berth ] || [ -z \"\$(ls -d /sys/fs/cgroup/memory/berth/*/ 2>/dev/null)\" ]"

echo "$fails failure(s)"
[ $fails -eq 0 ]
