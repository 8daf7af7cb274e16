#!/usr/bin/python
# Copyright: (c) 2026, nested-warden developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render, check and deploy a BOSH manifest."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bosh_deploy
short_description: Render a BOSH manifest, check its job properties, deploy or delete it
description:
  - Renders a BOSH deployment manifest with ops files and variables exactly as
    C(bosh interpolate) does (go-patch ops files, ((variable)) interpolation, a vars store
    whose declared C(variables) are generated and written back). The renderer is built in, so
    O(state=rendered) needs no bosh CLI.
  - Before anything is deployed, checks that every property set on a job is declared by that
    job's spec, for every job whose release is given in O(release_specs). The BOSH director
    silently drops undeclared properties; this module fails instead, naming the instance group,
    the job, the property and the nearest declared names.
  - O(state=present) deploys with C(bosh -n --json -d NAME deploy), passing the original
    manifest, ops files and vars files so the CLI renders the same manifest. O(state=absent)
    deletes the deployment.
  - Secrets never reach the command line. O(vars) go to the CLI through a temporary 0600 vars
    file, O(client_secret) through the environment (C(BOSH_CLIENT_SECRET)).
version_added: "1.0.0"
author:
  - nested-warden developers (@nested-warden)
requirements:
  - python >= 3.8 where the module runs
  - PyYAML
  - cryptography (to generate certificates, RSA and SSH keys into the vars store)
  - bosh CLI v7 (for O(state=present) and O(state=absent))
extends_documentation_fragment:
  - nested.warden.attributes
options:
  deployment:
    description:
      - Name of the deployment (C(bosh -d)). Must equal the rendered manifest's C(name).
      - Letters, digits, C(-), C(_), C(+) and C(.) only, as the director requires.
      - Required with O(state=present) and O(state=absent).
    type: str
  manifest:
    description:
      - Path of the deployment manifest. Required with O(state=present) and O(state=rendered).
    type: path
  ops_files:
    description:
      - Ops files applied to the manifest in this order (C(bosh -o)).
    type: list
    elements: path
    default: []
  vars:
    description:
      - Variables for ((name)) placeholders (C(bosh -v)); they win over O(vars_files).
      - Passed to the CLI in a temporary 0600 vars file, never on the command line.
      - Values under a name that says it is a secret (ending in C(password), C(passphrase),
        C(secret), C(token), C(credential(s)), C(key) as in C(private_key) or C(ssh_key), or
        C(private)), at any depth, are masked wherever they appear in the output; other values
        (hosts, versions) stay readable. Name secrets accordingly.
    type: dict
    default: {}
  vars_files:
    description:
      - YAML files of variables (C(bosh -l)); later files win.
    type: list
    elements: path
    default: []
  vars_store:
    description:
      - YAML file of variables (C(bosh --vars-store)). Variables declared in the manifest's
        C(variables) section with a type (C(password), C(certificate), C(rsa), C(ssh)) that are
        missing from the store are generated and written back to it with mode 0600.
      - The values in the store are secrets. Tasks that read them (O(path)) should use
        C(no_log).
    type: path
  state:
    description:
      - V(rendered) renders and checks the manifest and returns it; no bosh CLI is needed.
      - V(present) renders and checks the manifest, then deploys it.
      - V(absent) deletes the deployment; nothing happens when it does not exist.
    type: str
    choices: [present, absent, rendered]
    default: present
  path:
    description:
      - With O(state=rendered), return only the value at this go-patch path
        (C(bosh interpolate --path)), for example C(/docker_registry_password).
    type: str
  release_specs:
    description:
      - Job specs to check the manifest's job properties against. Each entry is a release
        tarball (C(.tgz) holding C(release.MF) and C(jobs/<job>.tgz)), a release source tree
        (C(jobs/<job>/spec); the release name comes from C(config/final.yml) or the directory
        name), or a single job spec file at C(<release>/jobs/<job>/spec).
      - Jobs whose release is not covered are not checked and are listed in the result.
    type: list
    elements: path
    default: []
  check_properties:
    description:
      - Check job properties against O(release_specs) before deploying or returning the
        rendered manifest. Defaults to true when O(release_specs) is given.
    type: bool
  environment:
    description:
      - Director URL or alias (C(https://HOST:25555)). Defaults to C(BOSH_ENVIRONMENT).
      - The bosh CLI parses it with Go's URL parser; it refuses a port without a scheme
        (C(10.0.0.6:25555)), an IPv6 address without a port, and an empty host or port. The
        module refuses these before it renders or runs anything.
    type: str
  client:
    description:
      - Director client (or user). Defaults to C(BOSH_CLIENT).
    type: str
  client_secret:
    description:
      - Secret of O(client). Defaults to C(BOSH_CLIENT_SECRET). Passed to the CLI in its
        environment only.
    type: str
  ca_cert:
    description:
      - CA certificate of the director, a path or the PEM text. Defaults to C(BOSH_CA_CERT).
    type: str
  recreate:
    description:
      - Recreate all VMs of the deployment (C(bosh deploy --recreate)). The task then always
        reports a change.
    type: bool
    default: false
  fix:
    description:
      - Recreate unresponsive instances (C(bosh deploy --fix)).
    type: bool
    default: false
  executable:
    description:
      - The bosh CLI to run, a path or a command name looked up on PATH. Defaults to C(bosh).
    type: path
notes:
  - The renderer follows bosh-cli v7 (gopkg.in/yaml.v2 scalars, go-patch v0.2.0 ops, its error
    texts); a parity test compares it with the real C(bosh interpolate) where a bosh CLI exists.
  - Check mode renders without writing the vars store and deploys with C(--dry-run), which
    renders job templates on the director without changing the deployment. For a deployment the
    director does not have yet it runs no dry run (a real director would record an empty
    deployment, cloudfoundry/bosh issue 2226) and only reports the change.
  - Changed is reported when the director's diff has added or removed lines, when variables were
    generated into the vars store, or with O(recreate). C(bosh deploy) always runs an update task;
    without differences it changes nothing.
  - Runs where the bosh CLI and the files are, normally the controller (delegate the task to
    C(localhost)).
attributes:
  check_mode:
    support: full
    details:
      - Renders without writing the vars store and deploys with C(--dry-run); see the notes.
  diff_mode:
    support: full
    details:
      - The diff is the director's, property values redacted.
  platform:
    support: full
    platforms: posix
"""

EXAMPLES = r"""
- name: Deploy Concourse with the registry ops file, checking job properties first
  nested.warden.bosh_deploy:
    deployment: concourse
    manifest: "{{ playbook_dir }}/manifests/concourse-lab.yml"
    ops_files:
      - "{{ playbook_dir }}/ops-files/docker-registry.yml"
    vars_store: "{{ playbook_dir }}/.state/concourse-vars.yml"
    vars:
      external_host: 10.246.0.21
    release_specs:
      - "{{ playbook_dir }}/releases/docker-registry"
  delegate_to: localhost

- name: Render only (no bosh CLI needed) and keep the manifest
  nested.warden.bosh_deploy:
    state: rendered
    manifest: "{{ playbook_dir }}/manifests/concourse-lab.yml"
    ops_files: ["{{ playbook_dir }}/ops-files/docker-registry.yml"]
    vars_store: "{{ playbook_dir }}/.state/concourse-vars.yml"
    release_specs: ["{{ playbook_dir }}/releases/docker-registry"]
  register: rendered
  no_log: true

- name: Read the registry password from the vars store
  nested.warden.bosh_deploy:
    state: rendered
    manifest: "{{ playbook_dir }}/.state/concourse-vars.yml"
    path: /docker_registry_password
  register: registry_password
  no_log: true

- name: Delete the deployment
  nested.warden.bosh_deploy:
    deployment: zookeeper
    state: absent
"""

RETURN = r"""
manifest:
  description: The rendered manifest (state=rendered, without O(path)). May hold secrets.
  returned: state=rendered and path is not given
  type: dict
value:
  description: The value at O(path). May be a secret.
  returned: state=rendered and path is given
  type: raw
generated_variables:
  description: Names of the variables generated into the vars store by this run.
  returned: when rendering
  type: list
  elements: str
  sample: [docker_registry_password]
unresolved_variables:
  description:
    - Names of ((variables)) left in the rendered manifest (for the director's config server,
      or missing).
  returned: when rendering
  type: list
  elements: str
property_check:
  description: What the property check covered.
  returned: when the property check ran
  type: dict
  contains:
    checked:
      description: Jobs checked, as C(instance_group/job (release)).
      type: list
      elements: str
    skipped:
      description: Jobs not checked because no release spec covers their release.
      type: list
      elements: str
    problems:
      description:
        - One entry per unknown job or undeclared property, with C(message), C(kind),
          C(instance_group), C(job), C(release), C(property) and C(suggestions).
      type: list
      elements: dict
job_properties:
  description:
    - The properties each checked job receives, as the director renders them, per instance group
      and job; every property the job's spec declares, from the manifest or the spec default, and
      nothing else. Returned even when the check fails, so the effect of undeclared properties
      can be seen. May hold secrets.
  returned: when the property check ran
  type: dict
  sample: {concourse: {registry: {docker: {registry: {bind: 127.0.0.1, port: 5080}}}}}
new_deployment:
  description: In check mode, true when the director has no such deployment yet (nothing is run).
  returned: check mode, when the deployment does not exist
  type: bool
diff_lines:
  description: The director's manifest diff, one line each, prefixed with C(+ ), C(- ) or two spaces.
  returned: state=present
  type: list
  elements: str
lines:
  description: The bosh CLI's C(Lines) output (secrets removed).
  returned: state=present, or state=absent when a deletion ran
  type: list
  elements: str
cmd:
  description: The bosh command line that ran (it never holds secrets).
  returned: when the bosh CLI ran, and on failure
  type: list
  elements: str
rc:
  description: Exit status of the bosh CLI.
  returned: failure
  type: int
stdout:
  description: Standard output of the failed bosh call, secrets removed.
  returned: failure
  type: str
stderr:
  description: Standard error of the failed bosh call, secrets removed.
  returned: failure
  type: str
stdout_lines:
  description: RV(stdout) split into lines.
  returned: failure
  type: list
  elements: str
stderr_lines:
  description: RV(stderr) split into lines.
  returned: failure
  type: list
  elements: str
"""

import os
import re

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib
from ansible_collections.nested.warden.plugins.module_utils.inputs import checked_module

try:
    from ansible_collections.nested.warden.plugins.module_utils.bosh_cli import (
        BoshCli,
        BoshCommandError,
        director_address_problem,
    )
    from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest import (
        YAML_IMPORT_ERROR,
        BoshError,
        dump_yaml,
        render,
    )
    from ansible_collections.nested.warden.plugins.module_utils.bosh_release_specs import (
        ReleaseSpecError,
        check_properties,
        job_properties,
        load_release_specs,
    )
    from ansible_collections.nested.warden.plugins.module_utils.cli_runner import (
        CliNotFound,
        private_file,
        redact,
        secret_strings,
    )
    from ansible_collections.nested.warden.plugins.module_utils.secrets import secret_values

    IMPORT_ERROR = YAML_IMPORT_ERROR  # PyYAML is the only third-party import; bosh_manifest guards it
except ImportError as err:
    IMPORT_ERROR = err


def argument_spec():
    return {
        "deployment": {"type": "str"},
        "manifest": {"type": "path"},
        "ops_files": {"type": "list", "elements": "path", "default": []},
        "vars": {"type": "dict", "default": {}},
        "vars_files": {"type": "list", "elements": "path", "default": []},
        "vars_store": {"type": "path"},
        "state": {"type": "str", "choices": ["present", "absent", "rendered"], "default": "present"},
        "path": {"type": "str"},
        "release_specs": {"type": "list", "elements": "path", "default": []},
        "check_properties": {"type": "bool"},
        "environment": {"type": "str", "fallback": (env_fallback, ["BOSH_ENVIRONMENT"])},
        "client": {"type": "str", "fallback": (env_fallback, ["BOSH_CLIENT"])},
        "client_secret": {"type": "str", "no_log": True, "fallback": (env_fallback, ["BOSH_CLIENT_SECRET"])},
        "ca_cert": {"type": "str", "fallback": (env_fallback, ["BOSH_CA_CERT"])},
        "recreate": {"type": "bool", "default": False},
        "fix": {"type": "bool", "default": False},
        "executable": {"type": "path"},
    }


def render_and_check(module, result):
    """Render like `bosh interpolate`, then check job properties; returns the RenderResult."""
    params = module.params
    try:
        rendered = render(
            params["manifest"],
            ops_files=params["ops_files"],
            vars_files=params["vars_files"],
            variables=params["vars"],
            vars_store=params["vars_store"],
            path=params["path"],
            save_store=False,  # written by save_vars_store once every check passed
        )
    except BoshError as err:
        module.fail_json(msg=f"rendering the manifest failed: {err.multiline()}", **result)
    result["generated_variables"] = rendered.generated
    result["unresolved_variables"] = rendered.unresolved

    check = params["check_properties"]
    if check is None:
        check = bool(params["release_specs"])
    if check:
        try:
            releases = load_release_specs(params["release_specs"])
        except ReleaseSpecError as err:
            module.fail_json(msg=f"reading release specs failed: {err}", **result)
        outcome = check_properties(rendered.manifest, releases)
        result["property_check"] = outcome.summary()
        if params["state"] == "rendered":
            # What the director would hand each job; it holds secrets, so only the rendered state
            # (whose callers use no_log) returns it, never a failed deploy.
            result["job_properties"] = job_properties(rendered.manifest, releases)
        if not outcome.ok:
            if params["state"] == "rendered":
                # As `bosh interpolate --vars-store` would: the render itself succeeded, and the
                # caller (the lab applies declared properties only) needs the generated values.
                save_vars_store(module, result, rendered)
                result["changed"] = bool(rendered.generated) and not module.check_mode
            lines = "\n".join("- " + problem["message"] for problem in outcome.problems)
            module.fail_json(
                msg=f"property check failed: {len(outcome.problems)} problem(s) in the rendered manifest; "
                f"the director would silently drop these properties:\n{lines}",
                **result,
            )
    return rendered


def save_vars_store(module, result, rendered):
    """Write generated variables to the vars store, after every check passed (never in check mode)."""
    if module.check_mode or rendered.store is None:
        return
    try:
        rendered.store.save()
    except BoshError as err:
        module.fail_json(msg=f"rendering the manifest failed: {err.multiline()}", **result)


def bosh_cli(module, rendered=None):
    params = module.params
    cli = BoshCli(
        module,
        executable=params["executable"],
        environment=params["environment"],
        client=params["client"],
        client_secret=params["client_secret"],
        ca_cert=params["ca_cert"],
    )
    cli.add_secrets(secret_values(params["vars"]))
    if rendered is not None and rendered.store_values:
        cli.add_secrets(secret_strings(rendered.store_values))
    return cli


def deploy(module, result, rendered):
    params = module.params
    name = rendered.manifest.get("name") if isinstance(rendered.manifest, dict) else None
    if isinstance(name, str) and name != params["deployment"]:
        module.fail_json(
            msg=f"the rendered manifest names deployment '{name}' but deployment is '{params['deployment']}'",
            **result,
        )
    save_vars_store(module, result, rendered)
    cli = bosh_cli(module, rendered)
    if module.check_mode and not deployment_exists(module, result, cli):
        # A dry run of a deployment the director does not have would record an empty one
        # (cloudfoundry/bosh issue 2226): check mode must change nothing, so it only predicts.
        result.update(changed=True, new_deployment=True)
        if module._diff:
            result["diff"] = {"before": "", "after": f"deployment: {params['deployment']}\n"}
        return
    temporary = []
    try:
        vars_files = list(params["vars_files"])
        if params["vars"]:
            path = private_file(dump_yaml(params["vars"]), prefix="bosh-vars-")
            temporary.append(path)
            vars_files.append(path)
        vars_store = params["vars_store"]
        if vars_store and module.check_mode:
            # The CLI writes generated values into the store; in check mode it gets a copy.
            vars_store = private_file(dump_yaml(rendered.store_values or {}), prefix="bosh-vars-store-")
            temporary.append(vars_store)
        run, output = cli.deploy(
            params["deployment"],
            params["manifest"],
            ops_files=params["ops_files"],
            vars_files=vars_files,
            vars_store=vars_store,
            recreate=params["recreate"],
            fix=params["fix"],
            dry_run=module.check_mode,
        )
    except BoshCommandError as err:
        module.fail_json(msg=err.msg, **result, **err.details)
    except CliNotFound as err:
        module.fail_json(msg=str(err), **result)
    finally:
        for path in temporary:
            if os.path.exists(path):
                os.unlink(path)
    diff_lines = redact(output.diff_lines, cli.secrets)
    result.update(
        changed=output.has_changes or params["recreate"] or bool(rendered.generated),
        cmd=run.cmd,
        diff_lines=diff_lines,
        lines=redact(output.lines, cli.secrets),
    )
    if module._diff:
        result["diff"] = {"prepared": "\n".join(diff_lines) + ("\n" if diff_lines else "")}


def deployment_exists(module, result, cli):
    try:
        return module.params["deployment"] in cli.deployment_names()
    except BoshCommandError as err:
        module.fail_json(msg=err.msg, **result, **err.details)
    except CliNotFound as err:
        module.fail_json(msg=str(err), **result)


def delete(module, result):
    cli = bosh_cli(module)
    deployment = module.params["deployment"]
    try:
        if not deployment_exists(module, result, cli):
            return
        result["changed"] = True
        if module._diff:
            result["diff"] = {"before": f"deployment: {deployment}\n", "after": ""}
        if module.check_mode:
            return
        run, output = cli.delete_deployment(deployment)
        result.update(cmd=run.cmd, lines=redact(output.lines, cli.secrets))
    except BoshCommandError as err:
        module.fail_json(msg=err.msg, **result, **err.details)
    except CliNotFound as err:
        module.fail_json(msg=str(err), **result)


def parameter_problems(params):
    """What is wrong with the parameters, found before anything is rendered, written or run."""
    problems = []
    if params["path"] and params["state"] != "rendered":
        problems.append("'path' is only used with state=rendered")
    if params["check_properties"] and not params["release_specs"]:
        problems.append("check_properties needs release_specs (release tarballs, release trees or job specs)")
    if params["state"] in ("present", "absent"):
        deployment = params["deployment"] or ""
        if not deployment.strip():
            problems.append("deployment must not be empty: give the name of the BOSH deployment")
        elif not DEPLOYMENT_NAME.fullmatch(deployment):
            shown = deployment if len(deployment) <= 60 else deployment[:60] + "..."
            problems.append(
                f"deployment '{shown}' is not a valid BOSH deployment name: letters, digits, '-', '_', "
                "'+' and '.' only (the director refuses others)"
            )
        environment = params["environment"]
        if not environment:
            problems.append(
                "no BOSH director is configured: set the 'environment' option or BOSH_ENVIRONMENT "
                "(https://HOST:25555)"
            )
        else:
            problem = director_address_problem(environment)
            if problem:
                problems.append(f"environment '{environment[:200]}' {problem}")
    return problems


# The director's rule for names: Bosh::Director::Models::VALID_ID (cloudfoundry/bosh,
# src/bosh-director/lib/bosh/director/models.rb), /^[-0-9A-Za-z_+.]+$/i.
DEPLOYMENT_NAME = re.compile(r"[-0-9A-Za-z_+.]+")


def main():
    module = checked_module(
        AnsibleModule,
        argument_spec(),
        supports_check_mode=True,
        required_if=[
            ("state", "present", ("deployment", "manifest")),
            ("state", "absent", ("deployment",)),
            ("state", "rendered", ("manifest",)),
        ],
    )
    if IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("PyYAML"), exception=str(IMPORT_ERROR))
    params = module.params
    module.no_log_values.update(secret_values(params["vars"]))
    problems = parameter_problems(params)
    if problems:
        module.fail_json(msg="; ".join(problems))
    for name in ("manifest", "vars_store"):
        if params[name]:
            params[name] = os.path.abspath(params[name])
    for name in ("ops_files", "vars_files", "release_specs"):
        params[name] = [os.path.abspath(p) for p in params[name]]

    result = {"changed": False}
    if params["state"] == "absent":
        delete(module, result)
    else:
        rendered = render_and_check(module, result)
        if params["state"] == "rendered":
            save_vars_store(module, result, rendered)
            result["changed"] = bool(rendered.generated)
            if module._diff and rendered.generated:
                # Names only: the values are secrets.
                result["diff"] = {
                    "before_header": params["vars_store"],
                    "after_header": params["vars_store"],
                    "before": "",
                    "after": "".join(f"{name}: (generated)\n" for name in rendered.generated),
                }
            if params["path"]:
                result["value"] = rendered.value
            else:
                result["manifest"] = rendered.manifest
        else:
            deploy(module, result, rendered)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
