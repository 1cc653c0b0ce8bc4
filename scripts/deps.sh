#!/bin/sh
# Installs what berth needs to build and test on Debian 12 (run as root).
set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
	build-essential cmake pkg-config git clang clang-format libclang-rt-dev \
	libyaml-dev libjansson-dev libcmocka-dev >/dev/null
