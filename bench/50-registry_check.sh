#!/usr/bin/env bash
# Benchmark (not a test): mean wall time per registry_check call over BENCH_CALLS (default 50)
# calls in one playbook loop, against the real distribution registry on 127.0.0.1 with htpasswd
# auth and one image pushed by skopeo. Each call authenticates, lists tags and HEADs a manifest.
# Prints one line: "registry_check: N ms per call (mean of 50 calls)".
set -euo pipefail

project="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$project/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$project/ansible.cfg"
export BENCH_CALLS="${BENCH_CALLS:-50}"
cd "$project"

exec python - <<'PY'
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

project = Path.cwd()
sys.path.insert(0, str(project / "tests" / "integration"))
from registry_fixtures import Registry, Skopeo, missing_tools, write_htpasswd  # noqa: E402

if missing_tools():
    sys.exit(f"registry_check bench: missing tools {missing_tools()}; run scripts/bootstrap")

calls = int(os.environ["BENCH_CALLS"])
user, password = "bench", secrets.token_urlsafe(16)
with tempfile.TemporaryDirectory(prefix="registry-check-bench-") as workdir:
    workdir = Path(workdir)
    htpasswd = write_htpasswd(workdir / "htpasswd", {user: password})
    with Registry(workdir / "registry", htpasswd=htpasswd) as registry:
        Skopeo(registry, workdir / "skopeo", user, password).push("bench/tiny", "1.0")
        extra_vars = workdir / "vars.json"
        extra_vars.touch(mode=0o600)
        settings = {"registry_url": registry.url, "registry_user": user, "registry_password": password}
        extra_vars.write_text(json.dumps({**settings, "bench_calls": calls}))
        argv = ["ansible-playbook", "-i", "localhost,", "-e", f"ansible_python_interpreter={sys.executable}"]
        argv += ["-e", f"@{extra_vars}", "bench/registry_check.yml"]
        played = subprocess.run(argv, capture_output=True, text=True, check=False)
mean = re.search(r"mean_ms=([0-9.]+)", played.stdout)
if played.returncode != 0 or not mean:
    print(played.stdout[-4000:], played.stderr[-2000:], sep="\n")
    sys.exit("registry_check bench: the playbook failed")
print(f"registry_check: {mean.group(1)} ms per call (mean of {calls} calls)")
PY
