#!/bin/sh
# Installs the dependencies, builds, and runs berth's main job on the bundled example.
set -e
cd "$(dirname "$0")/.."
sh scripts/deps.sh
sh scripts/build.sh
./build/bin/berth compose -f examples/compose/quickstart/compose.yaml config
# the engine: a test image from Debian's busybox-static, loaded, and a container through berthd
sh tests/images/build.sh /tmp/berth-example-images >/dev/null
./build/bin/berth load -i /tmp/berth-example-images/busybox-docker.tar
./build/bin/berth run --rm busybox echo hi
