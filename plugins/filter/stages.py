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


def report_summary(results, stages, earlier_fixes=None, not_covered=None, check_mode=False):
    """The report of a run: one row per stage in order, the overall status, the root causes
    fixed (by this run, or kept from the run that fixed them), and what was not covered."""
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
        }
