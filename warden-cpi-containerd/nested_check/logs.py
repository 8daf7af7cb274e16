"""nested-check scan-logs: the seed's success criteria in containerd's and Garden's logs."""

import contextlib
import re

from nested_check.common import tail

# The seed's success criteria: no XFS errors, no loop device errors.
LOG_PROBLEMS = re.compile(
    r"(xfs[^\n]*(error|fail|not supported|unknown filesystem)|mkfs\.xfs[^\n]*(error|fail|not found)"
    r"|losetup[^\n]*(fail|denied|not permitted)|LOOP_SET_FD|loop device[^\n]*(fail|denied|not permitted)"
    r"|failed to (attach|set up) loop)",
    re.IGNORECASE,
)


def scan_logs(args):
    findings = []
    for path in args.files:
        with contextlib.suppress(OSError), open(path, encoding="utf-8", errors="replace") as log:
            for number, line in enumerate(log, 1):
                if LOG_PROBLEMS.search(line):
                    findings.append({"file": path, "line": number, "text": line.strip()[:300]})
    result = {"check": "scan-logs", "passed": not findings, "files": args.files, "findings": findings}
    if args.tail:
        result["tails"] = {path: tail(path, args.tail) for path in args.files}
    return result
