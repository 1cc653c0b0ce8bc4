#!/bin/sh
# Installs what berth needs to build and test on Debian 12 (run as root).
#   libarchive-dev  layer and image tars (gzip, zstd, xz) — DESIGN.md
#   libseccomp-dev  seccomp filters; libcap-dev  capabilities — DESIGN.md
#   busybox-static  the test images' content (no registry can be reached)
#   zstd            zstd-compressed layers in the test images
#   crun, runc      the peers that bench/runtime.sh and the integration tests compare with
set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
	build-essential cmake pkg-config git clang clang-format libclang-rt-dev \
	libyaml-dev libjansson-dev libcmocka-dev \
	libarchive-dev libseccomp-dev libcap-dev busybox-static zstd crun runc >/dev/null
