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


class FilterModule:
    def filters(self):
        return {"nested_check_evidence": nested_check_evidence}
