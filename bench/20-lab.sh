#!/usr/bin/env bash
# Benchmark: site.yml on a fresh lab (the seed's broken registry, diagnosed and fixed, image
# built and pushed, nested test), site.yml again (nothing to change), and the same steps as a
# plain shell script (bench/shell-equivalent.sh: no checks, diagnosis, idempotence or report),
# with the ratios and the ten slowest tasks of each site.yml run (ansible.posix.profile_tasks).
# Prints timings only: nothing here asserts a duration.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

export ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks PROFILE_TASKS_TASK_OUTPUT_LIMIT=10

# slowest_tasks: the profile_tasks summary at the end of $output, one "  N.NNs  task" line each.
slowest_tasks() {
  awk '/^=+ *$/ { summary = 1; next }
       summary && match($0, / -+ [0-9.]+s$/) {
         seconds = substr($0, RSTART); gsub(/[ -]|s$/, "", seconds)
         printf "  %7.2fs  %s\n", seconds, substr($0, 1, RSTART - 1) }' <<<"$output"
}

timed ansible-playbook playbooks/lab-down.yml
timed ansible-playbook site.yml
first=$elapsed first_changed=$(changed_count) first_slowest=$(slowest_tasks)
timed ansible-playbook site.yml
second=$elapsed second_changed=$(changed_count) second_slowest=$(slowest_tasks)
timed bench/shell-equivalent.sh
shell=$elapsed

echo "site.yml, fresh lab: $first s (changed=$first_changed)"
echo "site.yml, second run: $second s (changed=$second_changed)"
echo "plain shell script, same steps: $shell s"
awk -v a="$first" -v b="$second" -v s="$shell" 'BEGIN {
  printf "ratio fresh site.yml / shell: %.2f\n", a / s
  printf "ratio second site.yml / shell: %.2f\n", b / s }'
echo "ten slowest tasks, fresh lab:"
echo "$first_slowest"
echo "ten slowest tasks, second run:"
echo "$second_slowest"
