#!/bin/sh
# Installs what berth needs to build and test on Debian 12 (run as root).
#   libarchive-dev  layer and image tars (gzip, zstd, xz) — DESIGN.md
#   libseccomp-dev  seccomp filters; libcap-dev  capabilities — DESIGN.md
#   busybox-static  the test images' content (no registry can be reached)
#   zstd            zstd-compressed layers in the test images
#   crun, runc      the peers that bench/runtime.sh and the integration tests compare with
#   libev-dev       berthd's event loop — DESIGN.md
#   node-llhttp     the C sources of llhttp (HTTP/1.1 parser), built from /usr/share/llhttp — DESIGN.md
#   tini            --init: tini-static is bind-mounted as the container's PID 1, as Docker does
#   libnl-route-3-dev  bridges, veths, addresses, routes through netlink — DESIGN.md
#   libnftables-dev    published ports, masquerade, isolation in berth's own table — DESIGN.md
#   nftables, iproute2 the network tests read the ruleset and links with `nft` and `ip` (berth does not)
#   dnsmasq-base    the network tests' local upstream resolver on loopback (DNS forwarding)
#   iperf3          bench/network.sh: throughput through a published port
set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
	build-essential cmake pkg-config git clang clang-format libclang-rt-dev \
	libyaml-dev libjansson-dev libcmocka-dev \
	libarchive-dev libseccomp-dev libcap-dev libev-dev node-llhttp tini \
	libnl-3-dev libnl-route-3-dev libnftables-dev nftables iproute2 dnsmasq-base iperf3 \
	busybox-static zstd crun runc >/dev/null
