#!/bin/sh
# Installs the dependencies, builds, and runs every test with ctest.
set -e
cd "$(dirname "$0")/.."
sh scripts/deps.sh
sh scripts/build.sh
ctest --test-dir build --output-on-failure
