#!/usr/bin/env bash
# Benchmark: the VM lab (inventory/lab-vm). site.yml on a fresh VM lab (VM boot included), the
# VM's boot to SSH and Docker as lab_vm measured it, the garden check's own seconds, the lab's
# Concourse start and each pipeline build (with NESTED_WARDEN_TOOLS_DIR), site.yml again
# (nothing to change), and removal. Under TCG this takes many minutes. Prints timings only.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

export ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks PROFILE_TASKS_TASK_OUTPUT_LIMIT=10
inventory=(-i inventory/lab-vm)

timed ansible-playbook "${inventory[@]}" playbooks/lab-down.yml
timed ansible-playbook "${inventory[@]}" site.yml
first=$elapsed first_changed=$(changed_count)
report=$(cat reports/summary.json)
timed ansible-playbook "${inventory[@]}" site.yml
second=$elapsed second_changed=$(changed_count)
timed ansible-playbook "${inventory[@]}" playbooks/lab-down.yml
down=$elapsed

python3 - "$report" <<'PY'
import json, sys
stages = {stage["stage"]: stage for stage in json.loads(sys.argv[1])["stages"]}
vm = stages["lab"].get("outputs", {}).get("vms", {}).get("worker-vm-0", {})
print(f"VM power-on to SSH and Docker: {vm.get('seconds_to_ready', '?')} s ({vm.get('accel', '?')}: {vm.get('accel_reason', '')})")
checks = stages["nested_test"].get("outputs", {}).get("checks", {})
for name in ("registry_pull", "garden"):
    if name in checks:
        print(f"nested check {name}: {checks[name].get('seconds', '?')} s ({'passed' if checks[name].get('passed') else 'not passed'})")
web = stages["concourse"].get("outputs", {}).get("web") or {}
if web:
    # The concourse stage's time is mostly the lab's Concourse start: install, PostgreSQL, web, worker.
    print(f"Concourse {web.get('version', '?')} up in the VM (concourse stage): {stages['concourse'].get('seconds', '?')} s")
pipeline = stages["pipeline"].get("outputs", {})
if pipeline.get("builds"):
    print(f"pipeline stage (set, unpause, trigger and watch): {stages['pipeline'].get('seconds', '?')} s")
    for build in pipeline["builds"]:
        took = build["end_time"] - build["start_time"] if build.get("end_time") and build.get("start_time") else "?"
        print(f"  build {build.get('job')} #{build.get('name')}: {build.get('status')} in {took} s")
for name, stage in stages.items():
    print(f"stage {name}: {stage.get('seconds', '?')} s, {stage.get('status')}")
PY
echo "site.yml, fresh VM lab: $first s (changed=$first_changed)"
echo "site.yml, second run: $second s (changed=$second_changed)"
echo "VM lab removal: $down s"
