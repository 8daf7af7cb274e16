# Copyright: (c) 2026, nested-warden developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A stage's result: from this run, or as the last run that ran the stage recorded it."""

from __future__ import annotations

DOCUMENTATION = r"""
name: stage_result
short_description: The result a site.yml stage handed on, from this run or recorded by an earlier one
description:
  - Every stage role sets C(<stage>_result) (status, reason, evidence, outputs, not_covered,
    seconds) and site.yml records it, without secrets, in
    C(<state_dir>/results/<stage>.json); a result with status V(fixed) is also kept in
    C(<stage>.fixed.json), so the root causes a run fixed stay known to later runs.
  - This lookup returns the stage's result of this run when the play has it, else the recorded
    one, so a stage run alone by its tag takes what the earlier stages produced.
  - Errors name the option or the recorded file and say what to do; they never quote a recorded
    file's content.
author: nested-warden developers (@nested-warden)
version_added: 1.0.0
options:
  _terms:
    description: Stage names (lab, concourse, registry_fix, image_build, pipeline, nested_test).
    type: list
    elements: str
    required: true
  state_dir:
    description: The per-inventory state directory (an absolute path).
    type: str
    vars:
      - name: nested_warden_state_dir
    required: true
  kind:
    description:
      - V(latest) is this run's result, else the last recorded one.
      - V(fixed) is the last recorded result whose status was V(fixed) (recorded results only).
    type: str
    choices: [latest, fixed]
    default: latest
  output:
    description:
      - Return only this entry of the result's C(outputs) (for example V(endpoint) of
        registry_fix); a result without it is an error that says what the result was.
    type: str
  default:
    description: Returned when there is no such result; without it a missing result is an error.
    type: raw
"""

EXAMPLES = r"""
- name: The registry endpoint registry_fix made reachable, also when image_build runs alone
  ansible.builtin.debug:
    msg: "{{ lookup('nested.warden.stage_result', 'registry_fix', output='endpoint') }}"

- name: Root causes an earlier run fixed
  ansible.builtin.debug:
    msg: "{{ lookup('nested.warden.stage_result', 'registry_fix', kind='fixed', default={}) }}"
"""

RETURN = r"""
_raw:
  description:
    - The result of each stage; a recorded one carries C(recorded_at).
    - With O(output), that output of each result.
  type: list
  elements: raw
"""

import json
import os
import re

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible_collections.nested.warden.plugins.module_utils.inputs import (
    decode_problem,
    kind_of,
    nul_problem,
    option_type_problem,
)

KINDS = ("latest", "fixed")
STAGE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def record_path(state_dir, stage, kind="latest"):
    suffix = ".fixed.json" if kind == "fixed" else ".json"
    return os.path.join(state_dir, "results", stage + suffix)


def read_record(path):
    """The recorded result at path, or None when nothing was recorded. Errors name the file and
    say what to do; they never quote its content."""
    try:
        with open(path, "rb") as handle:
            result = json.loads(handle.read().decode("utf-8"))
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as err:
        raise AnsibleLookupError(
            f"stage_result: the recorded stage result {path} {decode_problem(err)}, or delete it (the "
            "stage records it again when it runs)"
        ) from None
    except ValueError as err:
        where = f"line {err.lineno} column {err.colno}" if hasattr(err, "lineno") else "its content"
        raise AnsibleLookupError(
            f"stage_result: the recorded stage result {path} is not valid JSON ({where}); delete it "
            "(the stage records it again when it runs)"
        ) from None
    except IsADirectoryError:
        raise AnsibleLookupError(
            f"stage_result: the recorded stage result {path} is a directory, not a file; move it away"
        ) from None
    except OSError as err:
        raise AnsibleLookupError(
            f"stage_result: the recorded stage result {path} cannot be read: {err.strerror}; check "
            "that the controller user may read it"
        ) from None
    if not isinstance(result, dict) or "status" not in result:
        raise AnsibleLookupError(
            f"stage_result: the recorded stage result {path} is not a stage result; delete it (the "
            "stage records it again when it runs)"
        )
    return result


def state_dir_problem(state_dir):
    """Why state_dir cannot hold recorded results (a NUL byte, a file, a results that is a file)."""
    if not state_dir:
        return "stage_result: state_dir is empty; set nested_warden_state_dir (or state_dir=) to a directory"
    problem = nul_problem(state_dir, f"stage_result: state_dir {state_dir!r}")
    if problem:
        return problem
    for directory in (state_dir, os.path.join(state_dir, "results")):
        if os.path.exists(directory) and not os.path.isdir(directory):
            return (
                f"stage_result: state_dir {state_dir}: {directory} is a file, not a directory; set "
                "nested_warden_state_dir (or state_dir=) to the per-inventory state directory, or move "
                "the file away"
            )
    return None


def options_problem(options):
    """Why an option given to the lookup has the wrong type or value, said before Ansible's
    option handling would (its message leaves out the valid values)."""
    problem = option_type_problem("stage_result", options, {"state_dir": str, "kind": str, "output": str})
    if not problem and options.get("kind", "latest") not in KINDS:
        problem = f"stage_result: kind must be {' or '.join(KINDS)}, not {options['kind']!r}"
    return problem


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        problem = options_problem(kwargs)
        if problem:
            raise AnsibleLookupError(problem)
        self.set_options(var_options=variables, direct=kwargs)
        # An option taken from a variable arrives as written (a template in the inventory).
        state_dir = self.get_option("state_dir")
        if self._templar is not None:
            state_dir = self._templar.template(state_dir)
        if not isinstance(state_dir, str):
            raise AnsibleLookupError(
                f"stage_result: state_dir (nested_warden_state_dir) must be a path, not {kind_of(state_dir)}"
            )
        state_dir = os.path.expanduser(state_dir)
        problem = state_dir_problem(state_dir)
        if problem:
            raise AnsibleLookupError(problem)
        kind = self.get_option("kind")
        output = self.get_option("output")
        results = []
        for stage in terms:
            if not isinstance(stage, str) or not STAGE_NAME.match(stage):
                raise AnsibleLookupError(
                    f"stage_result: {stage!r} is not a stage name; give one of lab, concourse, "
                    "registry_fix, image_build, pipeline, nested_test"
                )
            result = None
            if kind == "latest" and variables and isinstance(variables.get(f"{stage}_result"), dict):
                result = variables[f"{stage}_result"]
            if result is None:
                result = read_record(record_path(state_dir, stage, kind))
            if result is None:
                if "default" in kwargs:
                    result = kwargs["default"]
                else:
                    raise AnsibleLookupError(
                        f"no result of the {stage} stage in this run or recorded in {state_dir}/results: "
                        f"run the {stage} stage first (ansible-playbook site.yml --tags {stage})"
                    )
            if output and result is not kwargs.get("default"):
                result = self._output(stage, result, output)
            results.append(result)
        return results

    @staticmethod
    def _output(stage, result, output):
        outputs = result.get("outputs") if isinstance(result.get("outputs"), dict) else {}
        if output not in outputs:
            when = f"recorded {result['recorded_at']}" if result.get("recorded_at") else "this run"
            raise AnsibleLookupError(
                f"the {stage} stage's result ({when}: {result.get('status')}"
                f"{', ' + result['reason'] if result.get('reason') else ''}) has no output {output!r}: "
                f"run the {stage} stage (ansible-playbook site.yml --tags {stage})"
            )
        return outputs[output]
