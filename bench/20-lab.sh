#!/usr/bin/env bash
# Benchmark: make lab on a fresh lab (the seed's broken registry, diagnosed and fixed, image
# built and pushed, nested test), then again (nothing to change).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

timed ansible-playbook playbooks/lab-down.yml
timed ansible-playbook site.yml
echo "make lab, fresh lab: $elapsed s (changed=$(changed_count))"
timed ansible-playbook site.yml
echo "make lab, second run: $elapsed s (changed=$(changed_count))"
