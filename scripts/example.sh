#!/bin/sh
# Installs the dependencies, builds, and runs berth's main job on the bundled example.
set -e
cd "$(dirname "$0")/.."
sh scripts/deps.sh
sh scripts/build.sh
./build/bin/berth compose -f examples/compose/quickstart/compose.yaml config
