#!/bin/sh
# Command-line tests of `berth compose config`: exit codes, error format,
# output forms.  Usage: config.sh BERTH SOURCE_DIR
set -u
BERTH=$1
SRC=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
check() { # name, condition
	if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi
}

ex=$SRC/examples/compose/quickstart/compose.yaml
"$BERTH" compose -f "$ex" config >"$T/out" 2>"$T/err"
check "example renders with exit 0" "[ $? -eq 0 ]"
check "example's .env fills GREETING" "grep -q 'GREETING: hello from .env' $T/out"
check "OS environment wins over .env" \
	"GREETING=os \"$BERTH\" compose -f $ex config | grep -q 'GREETING: os'"
check "default port from \${WEB_PORT:-8080}" "grep -q 'published: \"8080\"' $T/out"
check "merge keys expanded (labels on every service and x-common)" \
	"[ \$(grep -c 'com.example.stack: quickstart' $T/out) -eq 5 ]"

"$BERTH" compose -f "$ex" config -q >"$T/q"
check "-q prints nothing" "[ $? -eq 0 ] && [ ! -s $T/q ]"
"$BERTH" compose -f "$ex" config --services >"$T/s"
check "--services in dependency order" "[ \"\$(tr '\n' ' ' <$T/s)\" = 'db api web worker ' ]"
check "--volumes" "[ \"\$(\"$BERTH\" compose -f $ex config --volumes)\" = db-data ]"
check "--format json" "\"$BERTH\" compose -f $ex config --format json | grep -q '\"name\": \"quickstart\"'"

printf 'services:\n  a:\n    image: x\n    user: a$$b\n' >"$T/dollar.yaml"
check "\$\$ re-escaped in the output" \
	"\"$BERTH\" compose -f $T/dollar.yaml config | grep -qF 'user: a\$\$b'"
check "stdin with -f -" \
	"printf 'services:\\n  s:\\n    image: yy\\n' | \"$BERTH\" compose -p s -f - config | grep -q 'image: yy'"

printf 'services:\n  web:\n    image: x\n    imgae: y\n' >"$T/bad.yaml"
"$BERTH" compose -f "$T/bad.yaml" config >"$T/out" 2>"$T/err"
rc=$?
check "invalid file exits 1" "[ $rc -eq 1 ]"
check "error names file:line:column" "grep -q '$T/bad.yaml:4:5: services.web additional properties' $T/err"
check "nothing on stdout for an invalid file" "[ ! -s $T/out ]"

printf 'services:\n  a:\n    image: $UNSET_VAR_X\n' >"$T/unset.yaml"
"$BERTH" compose -f "$T/unset.yaml" config >/dev/null 2>"$T/err"
check "unset variable warns with file and line" \
	"grep -q 'unset.yaml:3:12: The \"UNSET_VAR_X\" variable is not set' $T/err"

mkdir -p "$T/proj/sub/deeper"
printf 'services:\n  base:\n    image: b\n' >"$T/proj/compose.yaml"
printf 'services:\n  base:\n    image: over\n' >"$T/proj/compose.override.yaml"
check "discovery walks up and reads the override" \
	"(cd $T/proj/sub/deeper && \"$BERTH\" compose config) | grep -q 'image: over'"
check "project name from the directory" \
	"(cd $T/proj && \"$BERTH\" compose config) | grep -q '^name: proj'"
check "-p must be valid" "! \"$BERTH\" compose -p Bad.Name -f $ex config 2>/dev/null"

exit $fails
