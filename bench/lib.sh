# Shared by the benchmarks: project paths and a timer. Sourced, not run.
project="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$project/.venv/bin:$project/.cache/tools:$PATH"
export ANSIBLE_CONFIG="$project/ansible.cfg"
cd "$project"

# timed COMMAND...: run COMMAND; sets $elapsed (wall seconds) and $output (its output).
timed() {
  local started finished
  started=$(date +%s.%N)
  if ! output=$("$@" 2>&1); then
    echo "bench: '$*' failed; last lines:" >&2
    tail -n 20 <<<"$output" >&2
    return 1
  fi
  finished=$(date +%s.%N)
  elapsed=$(awk -v a="$started" -v b="$finished" 'BEGIN { printf "%.1f", b - a }')
}

# changed_count: the changed= total in $output (ansible-playbook's recap).
changed_count() {
  grep -oE 'changed=[0-9]+' <<<"$output" | awk -F= '{ s += $2 } END { print s + 0 }'
}
