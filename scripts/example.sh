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
# networks: a page served on a user-defined network, fetched by name from a second
# container and from the host through a published port
B=./build/bin/berth
$B rm -f example-web >/dev/null 2>&1 || true
$B network rm example-net >/dev/null 2>&1 || true
$B network create example-net >/dev/null
$B run -d --name example-web --network example-net -p 127.0.0.1:18080:80 busybox \
	sh -c 'mkdir -p /www && echo "hello from berth" >/www/index.html && httpd -f -p 80 -h /www' >/dev/null
sleep 0.5
printf 'by name from a second container: '
$B run --rm --network example-net busybox sh -c 'timeout 5 wget -qO- http://example-web/'
printf 'from the host through 127.0.0.1:18080: '
timeout 5 busybox wget -qO- http://127.0.0.1:18080/
$B rm -f example-web >/dev/null
$B network rm example-net >/dev/null
# the quickstart project: up, its containers, its page through the published port, down
Q="./build/bin/berth compose -f examples/compose/quickstart/compose.yaml"
$Q up -d --wait
$Q ps
printf 'the quickstart web page through 127.0.0.1:8080: '
for i in 1 2 3 4 5 6 7 8 9 10; do timeout 5 busybox wget -qO- http://127.0.0.1:8080/ && break; sleep 0.3; done
$Q down -v
