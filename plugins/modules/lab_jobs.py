#!/usr/bin/python
# Copyright: (c) 2026, nested-warden developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bring the lab's BOSH jobs to their state in one module run, as the director and monit would."""

DOCUMENTATION = r"""
---
module: lab_jobs
short_description: Install and run BOSH jobs on a lab host as the director and monit would, or remove them
description:
  - Stands in for the BOSH director on a lab host (a container standing for the instance group's
    VM). For each job of O(jobs), in order (a proxy after the registry it fronts), with
    O(jobs[].state=present) it creates or corrects the job's directories and files (content, mode,
    owner, group; each file replaced atomically), stops a running job whose files changed, and
    starts it when it does not run or its files changed. With O(jobs[].state=absent) it stops the
    job if it runs and removes O(jobs[].home).
  - A second run with nothing to change changes nothing; a corrected directory owner or mode alone
    does not restart a job.
  - Creates O(user) first when it is missing, as a stemcell has C(vcap).
  - A failing command fails the module with the job's name and the command's output; the jobs
    before it stay done and are returned in RV(jobs).
version_added: "1.4.0"
author:
  - nested-warden developers (@nested-warden)
requirements:
  - python >= 3.8 (nothing beyond the standard library)
  - C(useradd) when O(user) is missing; the job's own start and stop commands (for example
    C(start-stop-daemon))
extends_documentation_fragment:
  - nested.warden.attributes
options:
  user:
    description: A system user the jobs run as, created without a home when missing.
    type: dict
    suboptions:
      name:
        description: User name.
        type: str
        required: true
      shell:
        description: Login shell of a created user.
        type: str
        default: /usr/sbin/nologin
  jobs:
    description: The jobs, brought to their state in this order.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Job name.
        type: str
        required: true
      state:
        description: V(present) installs and runs the job; V(absent) stops it and removes O(jobs[].home).
        type: str
        choices: [present, absent]
        default: present
      home:
        description: The job's directory, for example C(/var/vcap/jobs/registry).
        type: path
        required: true
      pidfile:
        description: The job's pidfile; the job runs when the process it names exists.
        type: path
        required: true
      start:
        description: Command that starts the job (argv); it must write O(jobs[].pidfile).
        type: list
        elements: str
        required: true
      stop:
        description: Command that stops the job (argv); exit status 1 means it had already exited.
        type: list
        elements: str
        required: true
      file_owner:
        description: Owner of the job's files. Required with O(jobs[].state=present).
        type: str
      file_group:
        description: Group of the job's files and directories. Required with O(jobs[].state=present).
        type: str
      dirs:
        description: Directories the job needs, created or corrected in this order.
        type: list
        elements: dict
        default: []
        suboptions:
          path:
            description: Absolute path.
            type: path
            required: true
          owner:
            description: Owner (the group is O(jobs[].file_group)).
            type: str
            required: true
          mode:
            description: Mode, an octal string.
            type: str
            default: "0750"
      files:
        description: The job's rendered files.
        type: list
        elements: dict
        default: []
        suboptions:
          dest:
            description: Path relative to O(jobs[].home).
            type: str
            required: true
          mode:
            description: Mode, an octal string.
            type: str
            required: true
          content:
            description: The file's content (it may hold keys and passwords; never logged or returned).
            type: str
            required: true
attributes:
  check_mode:
    support: full
    details:
      - Compares every directory and file and reports what it would create, correct, stop, start
        or remove, without changing anything.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
"""

EXAMPLES = r"""
- name: Install and run the registry job on the lab's Concourse host
  nested.warden.lab_jobs:
    user: {name: vcap}
    jobs:
      - name: registry
        home: /var/vcap/jobs/registry
        pidfile: /var/vcap/sys/run/registry/registry.pid
        start: [start-stop-daemon, --start, --background, --make-pidfile,
                --pidfile, /var/vcap/sys/run/registry/registry.pid, --chuid, vcap,
                --exec, /usr/bin/docker-registry, --, serve, /var/vcap/jobs/registry/config/registry.conf]
        stop: [start-stop-daemon, --stop, --remove-pidfile,
               --pidfile, /var/vcap/sys/run/registry/registry.pid]
        file_owner: root
        file_group: vcap
        dirs:
          - {path: /var/vcap/jobs/registry, owner: root}
          - {path: /var/vcap/jobs/registry/config, owner: root}
        files:
          - dest: config/registry.conf
            mode: "0640"
            content: "{{ lookup('ansible.builtin.template', 'registry.conf.j2') }}"

- name: Stop and remove the proxy job
  nested.warden.lab_jobs:
    jobs:
      - name: proxy
        state: absent
        home: /var/vcap/jobs/proxy
        pidfile: /var/vcap/sys/run/proxy/proxy.pid
        start: [/bin/false]
        stop: [start-stop-daemon, --stop, --remove-pidfile, --pidfile, /var/vcap/sys/run/proxy/proxy.pid]
"""

RETURN = r"""
user_created:
  description: Whether O(user) was (in check mode, would be) created.
  returned: always
  type: bool
  sample: false
jobs:
  description: What was (in check mode, would be) done to each job, by job name.
  returned: always, also on failure (the jobs before the failing one)
  type: dict
  contains:
    dirs:
      description: Directories created or corrected.
      type: list
      elements: str
    files:
      description: Files written (their paths; never their contents).
      type: list
      elements: str
    running:
      description: Whether the job ran before.
      type: bool
    stopped:
      description: Whether it was stopped.
      type: bool
    started:
      description: Whether it was started.
      type: bool
    removed:
      description: Whether its home was removed.
      type: bool
  sample: {registry: {dirs: [], files: [], running: true, stopped: false, started: false, removed: false}}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.nested.warden.plugins.module_utils.lab_jobs import LabJobError, lab_jobs


def argument_spec():
    directory = {
        "path": {"type": "path", "required": True},
        "owner": {"type": "str", "required": True},
        "mode": {"type": "str", "default": "0750"},
    }
    job_file = {
        "dest": {"type": "str", "required": True},
        "mode": {"type": "str", "required": True},
        "content": {"type": "str", "required": True, "no_log": True},
    }
    job = {
        "name": {"type": "str", "required": True},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "home": {"type": "path", "required": True},
        "pidfile": {"type": "path", "required": True},
        "start": {"type": "list", "elements": "str", "required": True},
        "stop": {"type": "list", "elements": "str", "required": True},
        "file_owner": {"type": "str"},
        "file_group": {"type": "str"},
        "dirs": {"type": "list", "elements": "dict", "default": [], "options": directory},
        "files": {"type": "list", "elements": "dict", "default": [], "options": job_file},
    }
    return {
        "user": {
            "type": "dict",
            "options": {
                "name": {"type": "str", "required": True},
                "shell": {"type": "str", "default": "/usr/sbin/nologin"},
            },
        },
        "jobs": {
            "type": "list",
            "elements": "dict",
            "required": True,
            "options": job,
            "required_if": [("state", "present", ("file_owner", "file_group"))],
        },
    }


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    done = {}
    try:
        result = lab_jobs(module.params["jobs"], module.params["user"], module.check_mode, done)
    except LabJobError as error:
        module.fail_json(msg=str(error), jobs=done)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
