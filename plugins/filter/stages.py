# Copyright: (c) 2026, nested-warden developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The stage contract: one result shape for every stage, and the report's rules over them.

Every stage role sets ``<stage>_result``::

    {status: passed|fixed|skipped|failed, reason: str, evidence: [str], outputs: {...},
     not_covered: [{what: str, reason: str}], predicted: bool, seconds: float|None}

``predicted`` is true in check mode: a status that says what the run would do.
"""

from __future__ import annotations

import datetime
import time

from ansible.errors import AnsibleFilterError
from ansible_collections.nested.warden.plugins.module_utils.secrets import mask_secrets

STATUSES = ("passed", "fixed", "skipped", "failed")


def _lines(value, name):
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    if not isinstance(value, (list, tuple)):
        raise AnsibleFilterError(
            f"stage_result: {name} must be a list of strings, got {type(value).__name__}"
        )
    return [str(item) for item in value if item not in (None, "")]


def _not_covered(items):
    shaped = []
    for item in items or []:
        if not isinstance(item, dict) or not item.get("what"):
            raise AnsibleFilterError(
                f"stage_result: not_covered items need 'what' and 'reason', got {item!r}"
            )
        shaped.append({"what": str(item["what"]), "reason": str(item.get("reason", ""))})
    return shaped


def stage_result(
    status, reason="", evidence=None, outputs=None, not_covered=None, started=None, predicted=False
):
    """A stage's result in the contract's shape; seconds from ``started`` (a timestamp).

    ``status`` may also be what a role hands on, a mapping with ``status`` and any of
    ``reason``, ``evidence``, ``outputs``, ``not_covered`` and ``predicted``; the stage runner
    (playbooks/tasks/stage.yml) shapes it so, adding the seconds and the check-mode flag."""
    if isinstance(status, dict):
        given = status
        if given.get("status") not in STATUSES:
            raise AnsibleFilterError(
                f"stage_result: a stage result needs a status in {', '.join(STATUSES)}, got {given!r}"
            )
        return stage_result(
            given["status"],
            reason=given.get("reason") or reason,
            evidence=given.get("evidence", evidence),
            outputs=given.get("outputs", outputs),
            not_covered=given.get("not_covered", not_covered),
            started=started,
            predicted=bool(given.get("predicted")) or bool(predicted),
        )
    if status not in STATUSES:
        raise AnsibleFilterError(f"stage_result: status must be one of {', '.join(STATUSES)}, got {status!r}")
    if outputs is not None and not isinstance(outputs, dict):
        raise AnsibleFilterError(f"stage_result: outputs must be a mapping, got {type(outputs).__name__}")
    seconds = None
    if started not in (None, ""):
        seconds = round(max(0.0, time.time() - float(started)), 1)
    return {
        "status": status,
        "reason": str(reason or ""),
        "evidence": _lines(evidence, "evidence"),
        "outputs": dict(outputs or {}),
        "not_covered": _not_covered(not_covered),
        "predicted": bool(predicted),
        "seconds": seconds,
    }


def failed_stage_result(failed, started=None, recorded_by_role=None):
    """The result of a stage whose role failed, from ansible_failed_result: its message as
    the reason, and what the failing task said (stderr, failed assertions) as evidence. A
    failed result the role set itself (with its outputs) is kept as it is."""
    if isinstance(recorded_by_role, dict) and recorded_by_role.get("status") == "failed":
        return dict(recorded_by_role)
    failed = failed if isinstance(failed, dict) else {}
    message = failed.get("msg") or failed.get("reason") or "failed"
    lines = _lines(message, "msg") if isinstance(message, (list, tuple)) else str(message).splitlines()
    evidence = lines[1:] + _lines(failed.get("stderr_lines"), "stderr_lines")[-10:]
    return stage_result("failed", reason=lines[0] if lines else "failed", evidence=evidence, started=started)


def stage_skip_reason(stage, failed_stage=None, lab_hosts_pending=False, predicted_fix=""):
    """Why the stage runner skips ``stage`` ("" to run it): after a failed stage (the later
    stages need what failed), and in check mode before the lab exists or after a fix that was
    only predicted (the stage would test the unfixed state)."""
    if failed_stage:
        return f"the {failed_stage} stage failed"
    if lab_hosts_pending and stage != "lab":
        return "check mode: the lab hosts do not exist yet (run without --check to create them)"
    if predicted_fix:
        return (
            f"check mode: this stage needs the fix the {predicted_fix} stage predicts; "
            "it would run once that fix is applied"
        )
    return ""


def predicted_fix(result, stage, check_mode, earlier=""):
    """The first stage whose fix check mode only predicted (later stages are skipped), or ""."""
    if earlier:
        return earlier
    if (
        check_mode
        and isinstance(result, dict)
        and result.get("status") == "fixed"
        and result.get("predicted")
    ):
        return stage
    return ""


def stage_record(result):
    """What is written to the state directory: the result and when it was recorded."""
    record = dict(result)
    record["recorded_at"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return record


def _yes_no(value):
    return "yes" if value else "no"


def _joined(items, empty="none"):
    items = [str(item) for item in items or [] if item not in (None, "")]
    return ", ".join(items) if items else empty


def _size(size):
    try:
        return f"{int(size) / 1_000_000:.1f} MB"
    except (TypeError, ValueError):
        return ""


def _listen(part, address_key):
    if not isinstance(part, dict):
        return "none"
    return f"{part.get(address_key)}:{part.get('port')}"


def _proxy(proxy):
    if not isinstance(proxy, dict):
        return "none"
    extras = [name for name, on in (("TLS", proxy.get("tls")), ("basic auth", proxy.get("auth"))) if on]
    return _listen(proxy, "address") + (f" ({', '.join(extras)})" if extras else "")


def _endpoint_auth(endpoint):
    if not isinstance(endpoint, dict):
        return ""
    return f"as {endpoint.get('username')}" if endpoint.get("authenticated") else "none (open registry)"


def _build(build):
    """One build: job, number, status, whether it is an earlier one, and its task's step summary."""
    if not isinstance(build, dict):
        return str(build)
    number = f"#{build['name']}" if build.get("name") else ""
    status = build.get("status") or ("not triggered" if build.get("triggered") is False else "")
    text = " ".join(part for part in (str(build.get("job", "")), number, status) if part)
    if build.get("reused"):
        text += " (its latest build; not run again)"
    summary = build.get("summary") if isinstance(build.get("summary"), dict) else {}
    outcomes = [
        f"{step.get('step')} {'passed' if step.get('passed') else 'FAILED'}"
        for step in summary.get("steps") or []
        if isinstance(step, dict)
    ]
    if outcomes:
        text += f" [nested-check: {', '.join(outcomes)}]"
    return text


def _builds(builds):
    return "; ".join(_build(build) for build in builds or [])


def _web(web):
    if not isinstance(web, dict) or not web.get("url"):
        return ""
    worker = " ".join(str(part) for part in (web.get("worker", "?"), web.get("worker_state", "")) if part)
    return f"{web['url']} (Concourse {web.get('version', '?')}; worker {worker})"


def _vms(vms):
    """Where each lab VM runs: kernel, cgroup version, AppArmor, Docker, accelerator and why."""
    lines = []
    for name, vm in sorted((vms or {}).items()):
        if not isinstance(vm, dict) or "kernel" not in vm:
            continue
        lines.append(
            f"{name}: kernel {vm['kernel']}, cgroup {vm.get('cgroup', '?')}, "
            f"AppArmor {'on' if vm.get('apparmor') else 'off'}, Docker {vm.get('docker', '?')}, "
            f"{vm.get('accel', '?')} ({vm.get('accel_reason', '')})"
        )
    return "; ".join(lines)


def _garden_check(checks):
    """The garden check's outcome: the steps that passed, were refused or failed, or why skipped."""
    garden = (checks or {}).get("garden")
    if not isinstance(garden, dict):
        return ""
    steps = [step for step in garden.get("steps") or [] if isinstance(step, dict)]
    if not steps:
        return f"{garden.get('status', 'not run')}: {garden.get('reason', garden.get('error', ''))}".rstrip(
            ": "
        )
    by_status = {}
    for step in steps:
        by_status.setdefault(step.get("status", "?"), []).append(step.get("name", "?"))
    return "; ".join(f"{status}: {', '.join(names)}" for status, names in by_status.items())


# What a user looks for in each stage's outputs, in order: (label, how to get it from outputs).
DETAILS = {
    "lab": [
        ("network", lambda o: f"{o['network']} ({o.get('subnet', '')})" if o.get("network") else ""),
        ("hosts", lambda o: _joined(o.get("hosts"))),
        ("VMs", lambda o: _vms(o.get("vms"))),
    ],
    "concourse": [
        ("registry job listens on", lambda o: _listen((o.get("deployment") or {}).get("registry"), "bind")),
        ("proxy job", lambda o: _proxy((o.get("deployment") or {}).get("proxy"))),
        ("ops files", lambda o: _joined(o.get("ops_files"))),
        ("lab Concourse", lambda o: _web(o.get("web"))),
    ],
    "registry_fix": [
        ("registry URL", lambda o: (o.get("endpoint") or {}).get("url", "")),
        ("method", lambda o: o.get("method", "")),
        ("authentication", lambda o: _endpoint_auth(o.get("endpoint"))),
        ("CA certificate", lambda o: "given" if (o.get("endpoint") or {}).get("ca_cert") else ""),
        ("repositories", lambda o: _joined(o.get("catalog"), "")),
    ],
    "image_build": [
        ("image", lambda o: o.get("image", "")),
        ("digest", lambda o: o.get("digest") or ("not pushed" if "digest" in o else "")),
        ("built this run", lambda o: _yes_no(o.get("built")) if "built" in o else ""),
        ("pushed this run", lambda o: _yes_no(o.get("pushed")) if "pushed" in o else ""),
        ("size", lambda o: _size(o.get("size_bytes")) if o.get("size_bytes") else ""),
        ("Garden", lambda o: o.get("garden", "")),
    ],
    "pipeline": [
        ("pipeline", lambda o: o.get("pipeline", "")),
        (
            "Concourse",
            lambda o: o.get("concourse_url") or ("none configured" if "concourse_url" in o else ""),
        ),
        ("fly", lambda o: o.get("fly_version", "")),
        ("offline validation", lambda o: o.get("validation", "")),
        ("builds", lambda o: _builds(o.get("builds")) if o.get("builds") else ""),
        ("error kind", lambda o: o.get("error_kind", "")),
    ],
    "nested_test": [
        ("host", lambda o: o.get("host", "")),
        ("mode", lambda o: o.get("mode", "")),
        ("--privileged refused", lambda o: (str(o.get("privileged_refusal") or "").splitlines() or [""])[0]),
        ("failed checks", lambda o: _joined(o.get("failed_checks")) if "failed_checks" in o else ""),
        ("cgroup nesting", lambda o: ((o.get("checks") or {}).get("cgroup_nesting") or {}).get("done", "")),
        ("Garden check", lambda o: _garden_check(o.get("checks"))),
    ],
}


def _scalar_text(value):
    """One line for a scalar or a list of scalars (None for anything else)."""
    if isinstance(value, bool):
        return _yes_no(value)
    if isinstance(value, (str, int, float)):
        text = str(value).strip().splitlines() or [""]
        return text[0] + (" ..." if len(text) > 1 else "")
    if isinstance(value, (list, tuple)):
        scalars = all(isinstance(item, (str, int, float)) for item in value)
        return _joined(value) if scalars else f"{len(value)} entries"
    return None


def _scalar_lines(value, label, depth=0):
    """A generic output as label: value lines (scalars and short lists of scalars, one level
    into mappings); never a list of a mapping's keys."""
    if value is None or value in ("", [], {}):
        return []
    if isinstance(value, dict):
        if depth:
            return []
        return [
            line for key, item in sorted(value.items()) for line in _scalar_lines(item, f"{label} {key}", 1)
        ]
    text = _scalar_text(value)
    return [(label, text)] if text else []


def report_details(outputs, stage=""):
    """The values a user looks for in a stage's outputs, as [{label, value}]: the registry URL,
    the image reference and digest, the fix method, the nested test's mode, and so on; the
    outputs of a stage this does not know, as label: value lines."""
    outputs = outputs if isinstance(outputs, dict) else {}
    if stage in DETAILS:
        lines = [(label, get(outputs)) for label, get in DETAILS[stage]]
    else:
        lines = [line for key, value in sorted(outputs.items()) for line in _scalar_lines(value, key)]
    return [{"label": label, "value": str(value)} for label, value in lines if value not in (None, "")]


def report_summary(results, stages, earlier_fixes=None, not_covered=None, check_mode=False):
    """The report of a run: one row per stage in order (outputs under secret names masked), the
    overall status, the root causes fixed (by this run, or kept from the run that fixed them),
    and what was not covered."""
    results = results or {}
    earlier_fixes = earlier_fixes or {}
    rows, causes, uncovered = [], [], []
    for stage in stages:
        result = results.get(stage)
        if not isinstance(result, dict):
            rows.append(
                {
                    "stage": stage,
                    "status": "not run",
                    "reason": "not in this run (tags)",
                    "evidence": [],
                    "outputs": {},
                    "details": [],
                    "predicted": False,
                    "seconds": None,
                }
            )
            continue
        row = {
            "stage": stage,
            **stage_result(
                **{
                    key: result.get(key)
                    for key in ("status", "reason", "evidence", "outputs", "not_covered", "predicted")
                }
            ),
        }
        row["seconds"] = result.get("seconds")
        # The report is a file others read: a stage's outputs show no secret by name.
        row["outputs"] = mask_secrets(row["outputs"])
        row["details"] = report_details(row["outputs"], stage)
        rows.append(row)
        if row["status"] == "fixed":
            when = "would be fixed by this run (check mode)" if row["predicted"] else "fixed by this run"
            causes += [{"stage": stage, "cause": cause, "when": when} for cause in row["evidence"]]
        elif row["status"] == "skipped":
            uncovered.append({"what": f"the {stage} stage", "reason": row["reason"]})
        uncovered += row.pop("not_covered")
    for stage in stages:
        earlier = earlier_fixes.get(stage)
        current = results.get(stage) or {}
        if isinstance(earlier, dict) and current.get("status") != "fixed":
            when = f"fixed by the run of {earlier.get('recorded_at', 'an earlier run')}"
            causes += [
                {"stage": stage, "cause": cause, "when": when}
                for cause in _lines(earlier.get("evidence"), "")
            ]
    uncovered += _not_covered(not_covered)
    failed = [row["stage"] for row in rows if row["status"] == "failed"]
    return {
        "overall": "failed" if failed else "passed",
        "failed_stages": failed,
        "check_mode": bool(check_mode),
        "stages": rows,
        "root_causes": causes,
        "not_covered": uncovered,
    }


class FilterModule:
    def filters(self):
        return {
            "stage_result": stage_result,
            "failed_stage_result": failed_stage_result,
            "stage_skip_reason": stage_skip_reason,
            "predicted_fix": predicted_fix,
            "stage_record": stage_record,
            "report_summary": report_summary,
            "report_details": report_details,
        }
