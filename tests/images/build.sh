#!/bin/sh
# Builds berth's test images from Debian's busybox-static, without a registry:
#   busybox-docker.tar  `docker save` as Docker >= 25 writes it (OCI layout +
#                       manifest.json), holding busybox:latest and whiteout:latest
#   busybox-oci.tar     an OCI image layout tar holding busybox:latest
#   busybox-legacy.tar  `docker save` as Docker < 25 wrote it (<id>/layer.tar)
#   busybox-rootfs.tar  a plain root filesystem tar, for `berth import`
# busybox's layer is gzip-compressed; whiteout's upper layer is zstd-compressed,
# deletes /etc/berth-deleted (a whiteout) and replaces /opt/replaced (an opaque
# whiteout).  Usage: build.sh OUTDIR
set -eu
OUT=${1:?usage: build.sh OUTDIR}
SRC=$(cd "$(dirname "$0")" && pwd)
BB=/bin/busybox
[ -x $BB ] || { echo "build.sh: $BB missing (apt-get install busybox-static)" >&2; exit 1; }
mkdir -p "$OUT"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

TAR="tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@1767225600 --format=posix --pax-option=delete=atime,delete=ctime"
sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }

# --- the busybox root filesystem
R=$W/rootfs
mkdir -p $R/bin $R/etc $R/tmp $R/root $R/home $R/var $R/proc $R/sys $R/dev $R/opt/replaced
cp $BB $R/bin/busybox
for a in $($BB --list); do [ "$a" = busybox ] || ln -sf busybox $R/bin/$a; done
cc -static -O2 -o $R/bin/berth-probe "$SRC/probe.c"
chmod 1777 $R/tmp
chmod 700 $R/root
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\nberth:x:1000:1000:berth:/home:/bin/sh\n' >$R/etc/passwd
printf 'root:x:0:\nnogroup:x:65534:\nberth:x:1000:\nextra:x:2000:berth\n' >$R/etc/group
echo 'deleted by the upper layer' >$R/etc/berth-deleted
echo 'from the lower layer' >$R/opt/replaced/old.txt
(cd $R && $TAR -cf $W/base.tar .)
cp $W/base.tar "$OUT/busybox-rootfs.tar"

# --- whiteout's upper layer
U=$W/upper
mkdir -p $U/etc $U/opt/replaced
: >$U/etc/.wh.berth-deleted
: >$U/opt/replaced/.wh..wh..opq
echo 'from the upper layer' >$U/opt/replaced/new.txt
(cd $U && $TAR -cf $W/upper.tar .)

B=$W/blobs/sha256
mkdir -p $B
add_blob() { # file -> prints digest hex, stores the blob
	h=$(sha "$1")
	cp "$1" $B/$h
	echo $h
}
gzip -9n -c $W/base.tar >$W/base.tar.gz
zstd -q -19 -c $W/upper.tar >$W/upper.tar.zst
base_diff=$(sha $W/base.tar)
upper_diff=$(sha $W/upper.tar)
base_gz=$(add_blob $W/base.tar.gz)
upper_zst=$(add_blob $W/upper.tar.zst)

config() { # cmd diff_ids... -> file
	f=$W/config.json
	ids=
	for d in "$@"; do ids="$ids${ids:+,}\"sha256:$d\""; done
	printf '{"architecture":"amd64","config":{"Cmd":["sh"],"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"WorkingDir":"/","Labels":{"org.berth.test":"yes"}},"created":"2026-01-01T00:00:00Z","history":[{"created":"2026-01-01T00:00:00Z","created_by":"tests/images/build.sh"}],"os":"linux","rootfs":{"type":"layers","diff_ids":[%s]}}' "$ids" >$f
	echo $f
}
manifest() { # config_hex config_size then "mediatype hex size" per layer
	c=$1 cs=$2
	shift 2
	l=
	while [ $# -gt 0 ]; do
		l="$l${l:+,}{\"mediaType\":\"$1\",\"digest\":\"sha256:$2\",\"size\":$3}"
		shift 3
	done
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' $c $cs "$l" >$W/m.json
	echo $W/m.json
}
GZ=application/vnd.oci.image.layer.v1.tar+gzip
ZST=application/vnd.oci.image.layer.v1.tar+zstd

bb_cfg=$(add_blob "$(config $base_diff)")
bb_man=$(add_blob "$(manifest $bb_cfg $(size $B/$bb_cfg) $GZ $base_gz $(size $B/$base_gz))")
wo_cfg=$(add_blob "$(config $base_diff $upper_diff)")
wo_man=$(add_blob "$(manifest $wo_cfg $(size $B/$wo_cfg) $GZ $base_gz $(size $B/$base_gz) $ZST $upper_zst $(size $B/$upper_zst))")

desc() { # manifest_hex name tag
	printf '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"docker.io/library/%s:%s","org.opencontainers.image.ref.name":"%s"}}' $1 $(size $B/$1) $2 $3 $3
}

# --- docker save (Docker >= 25): OCI layout plus manifest.json
D=$W/docker
mkdir -p $D/blobs/sha256
cp $B/* $D/blobs/sha256/
echo '{"imageLayoutVersion": "1.0.0"}' >$D/oci-layout
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s,%s]}' \
	"$(desc $bb_man busybox latest)" "$(desc $wo_man whiteout latest)" >$D/index.json
printf '[{"Config":"blobs/sha256/%s","RepoTags":["busybox:latest"],"Layers":["blobs/sha256/%s"]},{"Config":"blobs/sha256/%s","RepoTags":["whiteout:latest"],"Layers":["blobs/sha256/%s","blobs/sha256/%s"]}]' \
	$bb_cfg $base_gz $wo_cfg $base_gz $upper_zst >$D/manifest.json
(cd $D && $TAR -cf "$OUT/busybox-docker.tar" .)

# --- OCI image layout tar (busybox only; ref.name is the full name as podman writes it)
O=$W/oci
mkdir -p $O/blobs/sha256
cp $B/$bb_cfg $B/$bb_man $B/$base_gz $O/blobs/sha256/
echo '{"imageLayoutVersion": "1.0.0"}' >$O/oci-layout
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"docker.io/library/busybox:latest"}}]}' \
	$bb_man $(size $B/$bb_man) >$O/index.json
(cd $O && $TAR -cf "$OUT/busybox-oci.tar" .)

# --- docker save (Docker < 25): <id>/layer.tar, uncompressed, manifest.json only
L=$W/legacy
mkdir -p $L/$base_diff
cp $W/base.tar $L/$base_diff/layer.tar
cp $B/$bb_cfg $L/$bb_cfg.json
printf '[{"Config":"%s.json","RepoTags":["busybox:legacy"],"Layers":["%s/layer.tar"]}]' $bb_cfg $base_diff >$L/manifest.json
(cd $L && $TAR -cf "$OUT/busybox-legacy.tar" .)

echo "busybox image id sha256:$bb_cfg" >"$OUT/ids"
echo "whiteout image id sha256:$wo_cfg" >>"$OUT/ids"
