#!/usr/bin/env bash
# Benchmark: site.yml on a fresh lab against bench/shell-equivalent.sh, the same steps as a
# plain script (no checks, diagnosis, idempotence or report), printed as a ratio.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

timed ansible-playbook playbooks/lab-down.yml
timed ansible-playbook site.yml
site=$elapsed
timed bench/shell-equivalent.sh
shell=$elapsed
echo "site.yml on a fresh lab: $site s"
echo "plain shell script, same steps: $shell s"
awk -v a="$site" -v b="$shell" 'BEGIN { printf "ratio site.yml / shell: %.1f\n", a / b }'
