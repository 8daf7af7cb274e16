#!/usr/bin/env bash
# Benchmark: scripts/bootstrap warm, and cold for what can be redone here without touching the
# machine (a fresh copy of the project: .venv, collections, tool attempts; the Debian packages,
# the Docker engine and the base images are shared and already there).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

for run in 1 2 3; do
  timed scripts/bootstrap
  echo "bootstrap warm run $run: $elapsed s"
done

copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
git -C "$project" archive HEAD | tar -x -C "$copy"
timed "$copy/scripts/bootstrap"
echo "bootstrap cold (fresh .venv, collections, tools; shared packages, engine, images): $elapsed s"
grep -E '^  (venv|collections|tools) ' <<<"$output"
