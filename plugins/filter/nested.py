# Copyright: (c) 2026, nested-warden developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the nested test's checks (nested-check's JSON, one per step) amount to."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError


def nested_check_evidence(results, failed_steps):
    """One line per failed step and per failed diagnostic (evidence; consequence; fix), then
    the step's log tail, in the order the steps ran."""
    if not isinstance(results, dict):
        raise AnsibleFilterError(
            f"nested_check_evidence: results must be a mapping, got {type(results).__name__}"
        )
    lines = []
    for step in failed_steps or []:
        result = results.get(step) or {}
        if result.get("error"):
            lines.append(f"{step}: {result['error']}")
        for item in result.get("diagnostics") or []:
            if item.get("status") == "fail":
                lines.append(
                    f"{step} {item.get('name', '?')}: {item.get('evidence', '')}; "
                    f"{item.get('consequence', '')}; fix: {item.get('fix', '')}"
                )
        lines += [f"  log | {line}" for line in result.get("log_tail") or []]
    return lines


def warden_cpi_row(result):
    """The report's "warden CPI" row from the warden_cpi step's result (nested-check warden-cpi):
    its status and reason, each call's outcome and seconds in order, what each
    start_containers_with_systemd value did, the CPI's commit and the Garden that served it. A
    run without that step (no Garden check) gives a row that says so."""
    if not result:
        return {
            "row": "warden CPI",
            "status": "not run",
            "reason": "the warden CPI step did not run (nested_test_garden or nested_test_warden_cpi is "
            "false, or an earlier step failed)",
            "calls": "",
            "systemd_values": [],
            "cpi": "",
            "garden": "",
            "details": "",
        }
    if not isinstance(result, dict):
        raise AnsibleFilterError(
            f"warden_cpi_row: the step's result must be a mapping, got {type(result).__name__}"
        )
    calls = [
        f"{call.get('label', '?')} {call.get('outcome', '?')} ({call.get('seconds', '?')}s)"
        for call in result.get("calls") or []
    ]
    row = {
        "row": "warden CPI",
        "status": result.get("status") or ("passed" if result.get("passed") else "failed"),
        "reason": result.get("reason", ""),
        "calls": ", ".join(calls),
        "systemd_values": [run.get("what_it_did", "") for run in result.get("runs") or []],
        "cpi": str(result.get("cpi", "")).split(" (", 1)[0],
        "garden": result.get("garden", ""),
        "cleanup": result.get("cleanup", ""),
    }
    parts = [
        f"calls: {row['calls']}" if row["calls"] else "",
        *row["systemd_values"],
        f"CPI: {row['cpi']}" if row["cpi"] else "",
        f"Garden: {row['garden']}" if row["garden"] else "",
        f"cleanup: {row['cleanup']}" if row["cleanup"] else "",
    ]
    row["details"] = "; ".join(part for part in parts if part)
    return row


class FilterModule:
    def filters(self):
        return {"nested_check_evidence": nested_check_evidence, "warden_cpi_row": warden_cpi_row}
