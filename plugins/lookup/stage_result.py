# Copyright: (c) 2026, nested-warden developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A stage's result: from this run, or as the last run that ran the stage recorded it."""

from __future__ import annotations

DOCUMENTATION = r"""
name: stage_result
short_description: The result a site.yml stage handed on, from this run or recorded by an earlier one
description:
  - Every stage role sets C(<stage>_result) (status, reason, evidence, outputs, not_covered);
    site.yml's stage runner adds predicted and seconds and records it, without secrets, in
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
  check:
    description:
      - With O(output), before an output of a recorded result (not this run's) is used, check that
        what it describes still exists, and refuse it, naming the stage to run, when it does not.
        Checked are the V(endpoint) of registry_fix (its C(url) must answer C(/v2/) from the
        controller, with any HTTP status), the V(image) of image_build (the registry O(registry)
        must serve its tag, with the recorded digest when one was recorded) and the V(web) of
        concourse (its C(url) must answer C(/api/v1/info)).
      - Either way, a recorded output is used only with a warning that states its age and source.
    type: bool
    default: true
  registry:
    description:
      - The registry endpoint (registry_fix's output V(endpoint)) that serves the image, for the
        check of image_build's V(image). Without it that check is not made.
    type: dict
  password:
    description: The password of O(registry), for the check of an image on a registry with authentication.
    type: str
  timeout:
    description: Seconds to wait for the registry in a check.
    type: int
    default: 5
"""

EXAMPLES = r"""
- name: The registry endpoint registry_fix made reachable, also when image_build runs alone
  ansible.builtin.debug:
    msg: "{{ lookup('nested.warden.stage_result', 'registry_fix', output='endpoint') }}"

- name: The image image_build pushed, refused when the registry no longer serves it
  ansible.builtin.debug:
    msg: >-
      {{ lookup('nested.warden.stage_result', 'image_build', output='image',
                registry=lookup('nested.warden.stage_result', 'registry_fix', output='endpoint'),
                password=registry_password) }}

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

import datetime
import json
import os
import re

from ansible.errors import AnsibleLookupError
from ansible.module_utils.urls import open_url
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display
from ansible_collections.nested.warden.plugins.module_utils.inputs import (
    decode_problem,
    kind_of,
    nul_problem,
    option_type_problem,
)
from ansible_collections.nested.warden.plugins.module_utils.registry_api import RegistryError
from ansible_collections.nested.warden.plugins.module_utils.registry_client import RegistryClient
from ansible_collections.nested.warden.plugins.module_utils.registry_protocol import ConfigurationError

KINDS = ("latest", "fixed")
STAGE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# GET /v2/ without credentials answered "authenticate first": the registry is there.
ANSWERED = ("unauthorized",)

display = Display()


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
            result, recorded_in = self._stage_result(stage, variables, state_dir, kind, kwargs)
            if output and result is not kwargs.get("default"):
                value = self._output(stage, result, output)
                if recorded_in:
                    self._recorded_output(stage, output, value, result, recorded_in)
                result = value
            results.append(result)
        return results

    @staticmethod
    def _stage_result(stage, variables, state_dir, kind, kwargs):
        """This run's result of stage, else the recorded one (with the file it came from), else
        the default; without any, an error that names the stage to run."""
        if not isinstance(stage, str) or not STAGE_NAME.match(stage):
            raise AnsibleLookupError(
                f"stage_result: {stage!r} is not a stage name; give one of lab, concourse, "
                "registry_fix, image_build, pipeline, nested_test"
            )
        if kind == "latest" and variables and isinstance(variables.get(f"{stage}_result"), dict):
            return variables[f"{stage}_result"], None
        recorded_in = record_path(state_dir, stage, kind)
        result = read_record(recorded_in)
        if result is not None:
            return result, recorded_in
        if "default" in kwargs:
            return kwargs["default"], None
        raise AnsibleLookupError(
            f"no result of the {stage} stage in this run or recorded in {state_dir}/results: "
            f"run the {stage} stage first (ansible-playbook site.yml --tags {stage})"
        )

    def _recorded_output(self, stage, output, value, result, path):
        """State the age and source of an output taken from a record; refuse it when what it
        describes no longer exists."""
        age = describe_age(result.get("recorded_at"))
        source = f"the {stage} stage's output {output!r} as recorded {age} in {path}"
        if self.get_option("check"):
            problem = check_output(
                stage,
                output,
                value,
                result,
                registry=self.get_option("registry"),
                password=self.get_option("password"),
                timeout=self.get_option("timeout"),
            )
            if problem:
                raise AnsibleLookupError(
                    f"{source} is out of date: {problem}. Run the {stage} stage again "
                    f"(ansible-playbook site.yml --tags {stage}, or without --tags for the whole flow)"
                )
        display.warning(f"using {source}, not a result of this run")

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


def describe_age(recorded_at, now=None):
    """'at 2026-12-06T03:00:00Z, 42 min ago' (the age in minutes, hours or days)."""
    if not recorded_at:
        return "at an unknown time"
    try:
        when = datetime.datetime.strptime(str(recorded_at), "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc
        )
    except ValueError:
        return f"at {recorded_at}"
    now = now or datetime.datetime.now(datetime.timezone.utc)
    minutes = max(0, int((now - when).total_seconds() // 60))
    if minutes < 1:
        return f"at {recorded_at}, less than a minute ago"
    if minutes < 120:
        age = f"{minutes} min"
    elif minutes < 48 * 60:
        age = f"{minutes // 60} h"
    else:
        age = f"{minutes // (24 * 60)} days"
    return f"at {recorded_at}, {age} ago"


def _client(endpoint, password=None, timeout=5):
    authenticated = bool(endpoint.get("authenticated")) and password
    return RegistryClient(
        endpoint["url"],
        username=endpoint.get("username") if authenticated else None,
        password=password if authenticated else None,
        ca_cert=endpoint.get("ca_cert") or None,
        timeout=timeout,
    )


def check_output(stage, output, value, result, *, registry=None, password=None, timeout=5):
    """Why a recorded output no longer describes something that exists ("" when it does, or
    when this kind of output is not checked)."""
    try:
        if stage == "registry_fix" and output == "endpoint" and isinstance(value, dict) and value.get("url"):
            return endpoint_problem(value, timeout)
        if stage == "concourse" and output == "web" and isinstance(value, dict) and value.get("url"):
            return web_problem(value, timeout)
        if (
            stage == "image_build"
            and output == "image"
            and isinstance(registry, dict)
            and registry.get("url")
        ):
            return image_problem(
                str(value), (result.get("outputs") or {}).get("digest"), registry, password, timeout
            )
    except ConfigurationError as error:
        return f"the recorded endpoint cannot be used ({error})"
    return ""


def endpoint_problem(endpoint, timeout=5):
    """Why the registry endpoint does not answer GET /v2/ ("" when it answers)."""
    try:
        _client(endpoint, timeout=timeout).ping()
    except RegistryError as error:
        if error.kind not in ANSWERED:
            return f"the registry endpoint {endpoint['url']} does not answer ({error.message})"
    return ""


def web_problem(web, timeout=5):
    """Why the Concourse web node at web["url"] does not answer GET /api/v1/info ("" when it does)."""
    url = web["url"].rstrip("/") + "/api/v1/info"
    try:
        with open_url(url, timeout=timeout) as answer:
            json.load(answer)
    except (OSError, ValueError) as error:
        return f"the Concourse web node {web['url']} does not answer ({error})"
    return ""


def image_problem(image, digest, registry, password=None, timeout=5):
    """Why the registry no longer serves image (host:port/repository:tag) with digest ("" when
    it does; any digest when none was recorded)."""
    prefix = f"{registry.get('host_port', '')}/"
    if not image.startswith(prefix):
        return f"the image {image} is not on the registry {registry.get('host_port')}"
    repository, _colon, tag = image[len(prefix) :].rpartition(":")
    try:
        served = _client(registry, password, timeout).manifest(repository, tag)
    except RegistryError as error:
        return f"the registry does not serve the image {image} ({error.message})"
    if digest and served["digest"] != digest:
        return f"the registry's {image} is now {served['digest']}, not the recorded {digest}"
    return ""
