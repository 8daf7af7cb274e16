#!/usr/bin/env bash
# Benchmark: the nested_test stage end to end, and container start to containerd ready.
# Needs the lab (bench/20-lab.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

timed ansible-playbook site.yml --tags nested_test
echo "nested_test stage: $elapsed s"
python3 - "$project/reports/summary.json" <<'PY'
import json, sys
stages = {row["stage"]: row for row in json.load(open(sys.argv[1]))["stages"]}
outputs = stages["nested_test"].get("outputs", {})
checks = outputs.get("checks", {})
for name in ("containerd", "workload", "registry_pull", "registry_run"):
    if name in checks and "seconds" in checks[name]:
        print(f"nested_test {name}: {checks[name]['seconds']} s")
pulled = checks.get("registry_pull", {})
if "bytes" in pulled:
    print(f"nested_test registry_pull: {pulled['bytes'] / 1e6:.0f} MB of layers in {pulled.get('layers')} layers")
print(f"nested_test mode: {outputs.get('mode')}")
PY
