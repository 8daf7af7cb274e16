"""Parsing fly's output: what the real fly v8.2.5 printed, as fixtures.

CAPTURED holds the exact stdout, stderr and exit code of a fly built from the Concourse v8.2.5
source (commit 10d78df, version 0.0.0-dev, FAKE_FLY_VERSION=8.2.5 for the version checks), run
once against a throwaway stub of the Concourse API on 127.0.0.1 that answered as the atc/api
handlers do. The stub's answers (ids, times, the task's log lines, its build outcomes) are the
stub's; every byte of formatting around them (colours, backspaces, prompts, messages, exit codes)
is fly's. The double (tests/doubles/fly) is compared with these captures in
tests/integration/test_fly_pipeline.py.

The get_pipeline captures were recorded the same way on 2026-11-28 from a fly built from the same
source (v8.2.5, commit 10d78df, go1.26.8): the stub served /api/v1/info and
/api/v1/teams/main/pipelines/P/config (GET_PIPELINE_CONFIGS as JSON; 404 for any other P), and
fly re-marshals what it gets as atc.Config, so every byte of the JSON, field order included, is
fly's.
"""

import json
from pathlib import Path

import pytest
from ansible_collections.nested.warden.plugins.module_utils import fly_output

CAPTURED = {
    "login_token": {
        "argv": ["-t", "ci", "login", "-c", "http://127.0.0.1:18200"],
        "rc": 0,
        "stdout": (
            "logging in to team 'main'\n"
            "\n"
            "navigate to the following URL in your browser:\r\n"
            "\r\n"
            "  http://127.0.0.1:18200/login?fly_port=37449\r\n"
            "\n"
            "\x1b[?25l\x1b[?2004h\x1b[>4;2m\x1b[=1;1u\r"
            "\x1b[Jor enter token manually (input hidden):  \x1b[>4m\x1b[=0;1u\r"
            "\x1b[J\x1b[?25h\x1b[?2004l\x1b[?2026$p\x1b[?2027$p\n"
            "\r"
            "target saved\r\n"
        ),
        "stderr": "",
    },
    "login_bad_token": {
        "argv": ["-t", "ci2", "login", "-c", "http://127.0.0.1:18200"],
        "rc": 1,
        "stdout": (
            "logging in to team 'main'\n"
            "\n"
            "navigate to the following URL in your browser:\r\n"
            "\r\n"
            "  http://127.0.0.1:18200/login?fly_port=40591\r\n"
            "\n"
            "\x1b[?25l\x1b[?2004h\x1b[>4;2m\x1b[=1;1u\r"
            "\x1b[Jor enter token manually (input hidden):  \x1b[>4m\x1b[=0;1u\r"
            "\x1b[J\x1b[?25h\x1b[?2004l\x1b[?2026$p\x1b[?2027$p\n"
        ),
        "stderr": ("not authorized. run the following to log in:\n\n    /tmp/realfly/fly -t ci2 login\n\n"),
    },
    "status_unreachable": {
        "argv": ["-t", "ci", "status"],
        "rc": 1,
        "stdout": "",
        "stderr": (
            "please login again.\n"
            "\n"
            'token validation failed with error: Get "http://127.0.0.1:18200/api/v1/user": dial tcp 127.0.0.1:18200: connect: connection refused\n'  # noqa: E501 -- verbatim
        ),
    },
    "set_dry_run_new": {
        "argv": ["-t", "ci", "set-pipeline", "-n", "-p", "demo", "-c", "p4.yml", "--dry-run"],
        "rc": 0,
        "stdout": (
            "resources:\n"
            "  \x1b[0;33mresource img has been added:\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32mname: img\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32msource:\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32m  repository: x\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32mtype: registry-image\x1b[0m\n"
            "  \n"
            "jobs:\n"
            "  \x1b[0;33mjob build has been added:\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32mname: build\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32mplan:\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32m- get: img\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32m- put: img\x1b[0m\n"
            "  \n"
            "  \x1b[0;33mjob test has been added:\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32mname: test\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32mplan:\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32m- get: img\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32m  passed:\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32m  - build\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32m  trigger: true\x1b[0m\n"
            "  \n"
            "\x1b[1mpipeline name: \x1b[0mdemo\n"
            "\n"
            "Dry-run mode was set, exiting.\n"
        ),
        "stderr": "",
    },
    "set_without_n": {
        "argv": ["-t", "ci", "set-pipeline", "-p", "demo", "-c", "p4.yml"],
        "rc": 0,
        "stdout": (
            "resources:\n"
            "  \x1b[0;33mresource img has been added:\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32mname: img\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32msource:\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32m  repository: x\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32mtype: registry-image\x1b[0m\n"
            "  \n"
            "jobs:\n"
            "  \x1b[0;33mjob build has been added:\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32mname: build\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32mplan:\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32m- get: img\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32m- put: img\x1b[0m\n"
            "  \n"
            "  \x1b[0;33mjob test has been added:\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32mname: test\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32mplan:\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32m- get: img\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32m  passed:\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32m  - build\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32m  trigger: true\x1b[0m\n"
            "  \n"
            "\x1b[1mpipeline name: \x1b[0mdemo\n"
            "\n"
            "bubbletea: could not create cancelable reader: add reader to epoll interest list\n"
            "bubbletea: could not create cancelable reader: add reader to epoll interest list\n"
            "bailing out\n"
        ),
        "stderr": "",
    },
    "set_created": {
        "argv": ["-t", "ci", "set-pipeline", "-n", "-p", "demo", "-c", "p4.yml"],
        "rc": 0,
        "stdout": (
            "resources:\n"
            "  \x1b[0;33mresource img has been added:\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32mname: img\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32msource:\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32m  repository: x\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32mtype: registry-image\x1b[0m\n"
            "  \n"
            "jobs:\n"
            "  \x1b[0;33mjob build has been added:\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32mname: build\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32mplan:\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32m- get: img\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32m- put: img\x1b[0m\n"
            "  \n"
            "  \x1b[0;33mjob test has been added:\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32mname: test\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32mplan:\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32m- get: img\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32m  passed:\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32m  - build\x1b[0m\n"
            "  \x08\x08\x1b[0;32m+\x1b[0m \x1b[0;32m  trigger: true\x1b[0m\n"
            "  \n"
            "\x1b[1mpipeline name: \x1b[0mdemo\n"
            "\n"
            "pipeline created!\n"
            "you can view your pipeline here: http://127.0.0.1:18200/teams/main/pipelines/demo\n"
            "\n"
            "the pipeline is currently paused. to unpause, either:\n"
            "  - run the unpause-pipeline command:\n"
            "    /tmp/realfly/fly -t ci unpause-pipeline -p demo\n"
            "  - click play next to the pipeline in the web ui\n"
        ),
        "stderr": "",
    },
    "set_unchanged": {
        "argv": ["-t", "ci", "set-pipeline", "-n", "--no-color", "-p", "demo", "-c", "p4.yml"],
        "rc": 0,
        "stdout": "no changes to apply\n",
        "stderr": "",
    },
    "set_updated_no_color": {
        "argv": ["-t", "ci", "set-pipeline", "-n", "--no-color", "-p", "demo", "-c", "p4b.yml"],
        "rc": 0,
        "stdout": (
            "resources:\n"
            "  resource img has changed:\n"
            "  name: img\n"
            "  source:\n"
            "  \x08\x08-   repository: x\n"
            "  \x08\x08+   repository: other\n"
            "  type: registry-image\n"
            "  \n"
            "\x1b[1mpipeline name: \x1b[0mdemo\n"
            "\n"
            "configuration updated\n"
            "\n"
            "the pipeline is currently paused. to unpause, either:\n"
            "  - run the unpause-pipeline command:\n"
            "    /tmp/realfly/fly -t ci unpause-pipeline -p demo\n"
            "  - click play next to the pipeline in the web ui\n"
        ),
        "stderr": "",
    },
    "pipelines_one": {
        "argv": ["-t", "ci", "pipelines", "--json"],
        "rc": 0,
        "stdout": (
            "[\n"
            "  {\n"
            '    "id": 1,\n'
            '    "name": "demo",\n'
            '    "paused": true,\n'
            '    "public": false,\n'
            '    "archived": false,\n'
            '    "team_name": "main",\n'
            '    "last_updated": 1764340000\n'
            "  }\n"
            "]\n"
        ),
        "stderr": "",
    },
    "pause_missing": {
        "argv": ["-t", "ci", "pause-pipeline", "-p", "nope"],
        "rc": 1,
        "stdout": "",
        "stderr": ("pipeline 'nope' not found\n\n"),
    },
    "trigger": {
        "argv": ["-t", "ci", "trigger-job", "-j", "demo/build"],
        "rc": 0,
        "stdout": "started demo/build #1\n",
        "stderr": "",
    },
    "trigger_missing": {
        "argv": ["-t", "ci", "trigger-job", "-j", "nope/build"],
        "rc": 1,
        "stdout": "",
        "stderr": "error: resource not found\n",
    },
    "builds_json": {
        "argv": ["-t", "ci", "builds", "--json"],
        "rc": 0,
        "stdout": (
            "[\n"
            "  {\n"
            '    "id": 100,\n'
            '    "team_name": "main",\n'
            '    "name": "1",\n'
            '    "status": "pending",\n'
            '    "api_url": "/api/v1/builds/100",\n'
            '    "job_name": "build",\n'
            '    "pipeline_id": 1,\n'
            '    "pipeline_name": "demo",\n'
            '    "created_by": "test"\n'
            "  }\n"
            "]\n"
        ),
        "stderr": "",
    },
    "destroy_missing": {
        "argv": ["-t", "ci", "destroy-pipeline", "-n", "-p", "nope"],
        "rc": 0,
        "stdout": "`nope` does not exist\n",
        "stderr": "",
    },
    "unknown_target": {
        "argv": ["-t", "nope", "pipelines", "--json"],
        "rc": 1,
        "stdout": "",
        "stderr": "error: unknown target: nope\n",
    },
    "unreachable": {
        "argv": ["-t", "ci", "pipelines", "--json"],
        "rc": 1,
        "stdout": "",
        "stderr": (
            "could not reach the Concourse server called ci:\n"
            "\n"
            '    Get "http://127.0.0.1:18200/api/v1/info": dial tcp 127.0.0.1:18200: connect: connection refused\n'  # noqa: E501 -- verbatim
            "\n"
            "is the targeted Concourse running? better go catch it lol\n"
        ),
    },
    "watch_succeeded_0": {
        "argv": ["-t", "w", "trigger-job", "-j", "demo/build", "-w"],
        "rc": 0,
        "stdout": (
            "started demo/build #1\n"
            "\n"
            "\x1b[1mselected worker:\x1b[0m worker-0\n"
            "\x1b[1minitializing\x1b[0m\n"
            "\x1b[1mrunning sh -c echo hi\x1b[0m\n"
            "hello from the task\n"
            "line two\n"
            "succeeded\n"
        ),
        "stderr": "",
    },
    "watch_failed_0": {
        "argv": ["-t", "w", "trigger-job", "-j", "demo/build", "-w"],
        "rc": 1,
        "stdout": (
            "started demo/build #1\n"
            "\n"
            "\x1b[1mselected worker:\x1b[0m worker-0\n"
            "\x1b[1minitializing\x1b[0m\n"
            "\x1b[1mrunning sh -c echo hi\x1b[0m\n"
            "hello from the task\n"
            "line two\n"
            "failed\n"
        ),
        "stderr": "",
    },
    "watch_failed_7": {
        "argv": ["-t", "w", "trigger-job", "-j", "demo/build", "-w"],
        "rc": 7,
        "stdout": (
            "started demo/build #1\n"
            "\n"
            "\x1b[1mselected worker:\x1b[0m worker-0\n"
            "\x1b[1minitializing\x1b[0m\n"
            "\x1b[1mrunning sh -c echo hi\x1b[0m\n"
            "hello from the task\n"
            "line two\n"
            "failed\n"
        ),
        "stderr": "",
    },
    "watch_errored_0": {
        "argv": ["-t", "w", "trigger-job", "-j", "demo/build", "-w"],
        "rc": 2,
        "stdout": (
            "started demo/build #1\n"
            "\n"
            "\x1b[1mselected worker:\x1b[0m worker-0\n"
            "\x1b[1minitializing\x1b[0m\n"
            "\x1b[1mrunning sh -c echo hi\x1b[0m\n"
            "hello from the task\n"
            "line two\n"
            "something broke\n"
            "errored\n"
        ),
        "stderr": "",
    },
    "watch_aborted_0": {
        "argv": ["-t", "w", "trigger-job", "-j", "demo/build", "-w"],
        "rc": 3,
        "stdout": (
            "started demo/build #1\n"
            "\n"
            "\x1b[1mselected worker:\x1b[0m worker-0\n"
            "\x1b[1minitializing\x1b[0m\n"
            "\x1b[1mrunning sh -c echo hi\x1b[0m\n"
            "hello from the task\n"
            "line two\n"
            "aborted\n"
        ),
        "stderr": "",
    },
    "version_mismatch": {
        "argv": ["-t", "v", "pipelines", "--json"],
        "rc": 1,
        "stdout": "",
        "stderr": (
            "fly version (8.2.5) is out of sync with the target (7.14.0). to sync up, run the following:\n"
            "\n"
            "    /tmp/realfly/fly -t v sync\n"
            "\n"
            "cowardly refusing to run due to significant version discrepancy\n"
        ),
    },
    "login_version_warning": {
        "argv": ["-t", "v", "login", "-c", "http://127.0.0.1:18202"],
        "rc": 0,
        "stdout": (
            "logging in to team 'main'\n"
            "\n"
            "navigate to the following URL in your browser:\r\n"
            "\r\n"
            "  http://127.0.0.1:18202/login?fly_port=37811\r\n"
            "\n"
            "\x1b[?25l\x1b[?2004h\x1b[>4;2m\x1b[=1;1u\r"
            "\x1b[Jor enter token manually (input hidden):  \x1b[>4m\x1b[=0;1u\r"
            "\x1b[J\x1b[?25h\x1b[?2004l\x1b[?2026$p\x1b[?2027$p\n"
            "\r"
            "target saved\r\n"
        ),
        "stderr": (
            "WARNING:\n"
            "\n"
            "fly version (8.2.5) is out of sync with the target (7.14.0). to sync up, run the following:\n"
            "\n"
            "    /tmp/realfly/fly -t v sync\n"
            "\n"
        ),
    },
    "validate_invalid": {
        "argv": ["validate-pipeline", "-c", "badres.yml", "--strict"],
        "rc": 1,
        "stdout": "",
        "stderr": (
            "\n"
            "WARNING:\n"
            "Error loading existing config:\n"
            "  - invalid resources:\n"
            "\tresource 'repo' is not used\n"
            "\n"
            "  - invalid jobs:\n"
            "\tjobs.build.plan.do[0].get(nope): unknown resource 'nope'\n"
            "\tjobs.build.plan.do[1].put(other): unknown resource 'other'\n"
            "\n"
            "\n"
            "error: configuration invalid\n"
        ),
    },
    "validate_unknown_key": {
        "argv": ["validate-pipeline", "-c", "unknownkey.yml", "--strict"],
        "rc": 1,
        "stdout": "",
        "stderr": 'error: error unmarshaling JSON: while decoding JSON: json: unknown field "extra_top"\n',
    },
    "get_pipeline": {
        "argv": ["-t", "ci", "get-pipeline", "-p", "demo", "--json"],
        "rc": 0,
        "stdout": (
            '{"resources":[{"name":"img","type":"registry-image","source":{"repository":"x"}}],'
            '"jobs":[{"name":"build","plan":[{"get":"img"},{"put":"img"}]},{"name":"test",'
            '"plan":[{"get":"img","passed":["build"],"trigger":true}]}]}'
        ),
        "stderr": "",
    },
    "get_pipeline_rich": {
        "argv": ["-t", "ci", "get-pipeline", "-p", "rich", "--json"],
        "rc": 0,
        "stdout": (
            '{"groups":[{"name":"all","jobs":["build","test"]}],"resources":[{"name":"repo",'
            '"type":"git","source":{"branch":"main","password":"((repo_password))",'
            '"uri":"https://example.com/r.git"},"check_every":"1m0s","icon":"git"},{"name":"img",'
            '"type":"registry-image","source":{"repository":"x\\u003cy\\u003e\\u0026z",'
            '"tag":"latest"}}],"resource_types":[{"name":"custom","type":"registry-image",'
            '"source":{"repository":"custom"},"privileged":true}],"jobs":[{"name":"build",'
            '"serial":true,"on_failure":{"config":{"platform":"linux","rootfs_uri":"raw:///x",'
            '"run":{"path":"true"}},"task":"notify"},"plan":[{"in_parallel":{"steps":[{"get":"repo",'
            '"trigger":true},{"get":"img","params":{"format":"oci","skip_download":true}}]}},'
            '{"attempts":2,"config":{"platform":"linux","image_resource":{"name":"",'
            '"type":"registry-image","source":{"repository":"ubuntu","tag":"noble"}},'
            '"params":{"A":"1","B":"2"},"run":{"path":"sh","args":["-c","echo hi"],"dir":"repo"},'
            '"inputs":[{"name":"repo"}],"outputs":[{"name":"out","path":"o"}]},"privileged":true,'
            '"task":"compile","timeout":"1h"},{"get_params":{"skip_download":true},'
            '"params":{"image":"out/image.tar"},"put":"img"}]},{"name":"test",'
            '"disable_manual_trigger":true,"max_in_flight":2,"ensure":{"put":"img"},'
            '"plan":[{"get":"img","passed":["build"],"trigger":true},{"do":[{"file":"repo/t1.yml",'
            '"task":"t1"},{"try":{"put":"img"}}]}]}],'
            '"display":{"background_image":"https://example.com/bg.png"}}'
        ),
        "stderr": "",
    },
    "get_pipeline_durations": {
        "argv": ["-t", "ci", "get-pipeline", "-p", "durations", "--json"],
        "rc": 0,
        "stdout": (
            '{"resources":[{"name":"a","type":"git","source":{},"check_every":"1m30s"},{"name":"b",'
            '"type":"git","source":{},"check_every":"1h30m0s"},{"name":"c","type":"git","source":{},'
            '"check_every":"500ms"},{"name":"d","type":"git","source":null,"check_every":"never"}],'
            '"jobs":[{"name":"j","plan":[{"config":{"platform":"linux","run":{"path":"x"},'
            '"inputs":[{"name":"i","optional":true}],"caches":[{"path":"c"}]},"task":"t"},'
            '{"in_parallel":{"steps":[{"get":"a"}],"limit":2,"fail_fast":true}}]}]}'
        ),
        "stderr": "",
    },
    "get_pipeline_missing": {
        "argv": ["-t", "ci", "get-pipeline", "-p", "nope", "--json"],
        "rc": 1,
        "stdout": "",
        "stderr": "error: pipeline not found\n",
    },
    "get_pipeline_slash": {
        "argv": ["-t", "ci", "get-pipeline", "-p", "a/b", "--json"],
        "rc": 1,
        "stdout": "",
        "stderr": (
            "error: invalid argument for flag `-p, --pipeline' (expected flaghelpers.PipelineFlag): instance vars should be formatted as <key1:value1>(,<key2:value2>)\n"  # noqa: E501 -- verbatim
        ),
    },
}

# The configs the stub served for the get_pipeline captures (demo is the p4.yml of the set captures).
GET_PIPELINE_CONFIGS = {
    "durations": """\
resources:
- {name: a, type: git, source: {}, check_every: 90s}
- {name: b, type: git, source: {}, check_every: 1h30m}
- {name: c, type: git, source: {}, check_every: 500ms}
- {name: d, type: git, check_every: never}
jobs:
- name: j
  plan:
  - task: t
    config: {platform: linux, run: {path: x}, caches: [{path: c}], inputs: [{name: i, optional: true}]}
  - in_parallel: {steps: [{get: a}], limit: 2, fail_fast: true}
""",
    "rich": """\
groups:
- name: all
  jobs: [build, test]
resources:
- name: repo
  type: git
  icon: git
  check_every: 1m
  source: {uri: "https://example.com/r.git", branch: main, password: ((repo_password))}
- name: img
  type: registry-image
  source: {repository: "x<y>&z", tag: latest}
resource_types:
- name: custom
  type: registry-image
  privileged: true
  source: {repository: custom}
jobs:
- name: build
  serial: true
  public: false
  plan:
  - in_parallel:
    - get: repo
      trigger: true
    - get: img
      params: {skip_download: true, format: oci}
  - task: compile
    privileged: true
    attempts: 2
    timeout: 1h
    config:
      run: {path: sh, args: [-c, "echo hi"], dir: repo}
      platform: linux
      inputs: [{name: repo}]
      outputs: [{name: out, path: o}]
      params: {B: "2", A: "1"}
      image_resource: {type: registry-image, source: {repository: ubuntu, tag: noble}}
  - put: img
    params: {image: out/image.tar}
    get_params: {skip_download: true}
  on_failure:
    task: notify
    config:
      platform: linux
      rootfs_uri: raw:///x
      run: {path: "true"}
- name: test
  disable_manual_trigger: true
  max_in_flight: 2
  plan:
  - get: img
    passed: [build]
    trigger: true
  - do:
    - task: t1
      file: repo/t1.yml
    - try:
        put: img
  ensure:
    put: img
display:
  background_image: https://example.com/bg.png
""",
}


def test_terminal_text_drops_colours_and_applies_backspaces_as_a_terminal_shows_them():
    assert fly_output.terminal_text("  \b\b\x1b[0;32m+\x1b[0m \x1b[0;32mname: img\x1b[0m") == "+ name: img"
    assert fly_output.terminal_text("\x1b[1mpipeline name: \x1b[0mdemo") == "pipeline name: demo"
    assert fly_output.terminal_text("\rtarget saved\r") == "target saved"
    assert fly_output.terminal_text("\b\bx") == "x"  # nothing to erase at the start of a line


def test_created_pipeline_diff_reads_like_a_unified_diff():
    output = fly_output.SetPipelineOutput(CAPTURED["set_created"]["stdout"])
    assert (output.created, output.updated, output.unchanged, output.changes) == (True, False, False, True)
    assert output.diff_lines == [
        "resources:",
        "  resource img has been added:",
        "+ name: img",
        "+ source:",
        "+   repository: x",
        "+ type: registry-image",
        "",
        "jobs:",
        "  job build has been added:",
        "+ name: build",
        "+ plan:",
        "+ - get: img",
        "+ - put: img",
        "",
        "  job test has been added:",
        "+ name: test",
        "+ plan:",
        "+ - get: img",
        "+   passed:",
        "+   - build",
        "+   trigger: true",
    ]
    assert not any("\x1b" in line or "\b" in line for line in output.diff_lines)


def test_updated_pipeline_diff_keeps_common_lines_indented_and_marks_changes():
    output = fly_output.SetPipelineOutput(CAPTURED["set_updated_no_color"]["stdout"])
    assert (output.created, output.updated, output.changes) == (False, True, True)
    assert output.diff_lines == [
        "resources:",
        "  resource img has changed:",
        "  name: img",
        "  source:",
        "-   repository: x",
        "+   repository: other",
        "  type: registry-image",
    ]


def test_no_changes_to_apply_is_the_only_unchanged_signal():
    output = fly_output.SetPipelineOutput(CAPTURED["set_unchanged"]["stdout"])
    assert (output.unchanged, output.changes, output.diff_lines) == (True, False, [])


def test_dry_run_shows_the_diff_and_applies_nothing():
    output = fly_output.SetPipelineOutput(CAPTURED["set_dry_run_new"]["stdout"])
    assert output.dry_run and output.changes and not output.created
    assert output.diff_lines[2] == "+ name: img"


def test_without_n_fly_bails_out_with_exit_0():
    capture = CAPTURED["set_without_n"]
    assert capture["rc"] == 0
    assert fly_output.SetPipelineOutput(capture["stdout"]).bailed_out


def test_deprecation_warnings_are_collected_but_validation_errors_are_not():
    stderr = (
        "\nDEPRECATION WARNING:\n  - resources.Repo_X: 'Repo_X' is not a valid identifier: must start with a "
        "lowercase letter or a number\n\nidentifier schema documentation: https://concourse-ci.org/x\n\n"
    )
    assert fly_output.warning_lines(stderr) == [
        "resources.Repo_X: 'Repo_X' is not a valid identifier: must start with a lowercase letter or a number"
    ]
    assert fly_output.warning_lines(CAPTURED["validate_invalid"]["stderr"]) == []


def test_pipelines_json_is_read_and_the_pipeline_found_by_name():
    pipelines = fly_output.parse_pipelines(CAPTURED["pipelines_one"]["stdout"])
    assert fly_output.find_pipeline(pipelines, "demo") == {
        "id": 1,
        "name": "demo",
        "paused": True,
        "public": False,
        "archived": False,
        "team_name": "main",
        "last_updated": 1764340000,
    }
    assert fly_output.find_pipeline(pipelines, "other") is None
    assert fly_output.find_pipeline([{"name": "demo", "instance_vars": {"a": 1}}], "demo") is None


def test_pipelines_output_that_is_not_json_is_a_clear_error():
    with pytest.raises(fly_output.FlyError, match="not JSON"):
        fly_output.parse_pipelines("id name paused\n")


@pytest.mark.parametrize(
    ("capture", "status", "rc"),
    [
        ("watch_succeeded_0", "succeeded", 0),
        ("watch_failed_0", "failed", 1),
        ("watch_failed_7", "failed", 7),
        ("watch_errored_0", "errored", 2),
        ("watch_aborted_0", "aborted", 3),
    ],
)
def test_watched_build_status_and_exit_code_follow_fly(capture, status, rc):
    captured = CAPTURED[capture]
    assert captured["rc"] == rc
    output = fly_output.WatchOutput(captured["stdout"], captured["rc"])
    assert (output.pipeline, output.job, output.name, output.status) == ("demo", "build", "1", status)
    assert output.tail()[:3] == ["selected worker: worker-0", "initializing", "running sh -c echo hi"]
    assert "hello from the task" in output.tail()
    assert status not in output.tail()


def test_errored_build_keeps_the_error_message_in_the_log_tail():
    output = fly_output.WatchOutput(CAPTURED["watch_errored_0"]["stdout"], 2)
    assert output.tail()[-1] == "something broke"


def test_exit_code_meaning_names_the_mapping():
    assert fly_output.exit_code_meaning("succeeded", 0) == "fly exits 0 for a build that succeeds"
    assert fly_output.exit_code_meaning("failed", 1) == "fly exits 1 for a build that failed"
    assert fly_output.exit_code_meaning("failed", 7) == "exit code 7 is the last task's exit status"
    assert fly_output.exit_code_meaning("errored", 2) == "fly exits 2 for a build that errored"
    assert fly_output.exit_code_meaning("aborted", 3) == "fly exits 3 for a build that aborted"
    assert fly_output.exit_code_meaning(None, 255) == "fly could not follow the build's events"


def test_trigger_without_watch_names_the_build():
    output = fly_output.WatchOutput(CAPTURED["trigger"]["stdout"], 0)
    assert (output.name, output.status, output.log_lines) == ("1", None, [])


def test_a_timed_out_watch_has_no_status_even_if_a_log_line_looks_like_one():
    output = fly_output.WatchOutput("started p/j #3\n\nfailed\n", 2, timed_out=True)
    assert (output.status, output.timed_out, output.log_lines) == (None, True, ["failed"])


def test_builds_json_has_the_documented_fields():
    (build,) = json.loads(CAPTURED["builds_json"]["stdout"])
    assert {"id", "team_name", "name", "status", "api_url", "job_name", "pipeline_name"} <= set(build)


# What `fly workers --json` prints: atc.Worker's fields in its order (atc/worker.go at v8.2.5).
WORKERS_JSON = """[
  {
    "addr": "10.0.0.7:7777",
    "baggageclaim_url": "http://10.0.0.7:7788",
    "active_containers": 3,
    "active_volumes": 5,
    "active_tasks": 0,
    "resource_types": [],
    "platform": "linux",
    "tags": null,
    "team": "",
    "name": "lab-worker",
    "version": "2.5",
    "start_time": 1764990000,
    "ephemeral": false,
    "state": "stalled"
  },
  {
    "addr": "",
    "baggageclaim_url": "",
    "active_containers": 0,
    "active_volumes": 0,
    "active_tasks": 0,
    "resource_types": [],
    "platform": "linux",
    "tags": ["nested"],
    "team": "main",
    "name": "old-worker",
    "version": "2.5",
    "start_time": 1764980000,
    "ephemeral": false,
    "state": "landed"
  }
]
"""


def test_no_running_worker_names_every_worker_with_its_state_and_the_fix():
    workers = fly_output.parse_workers(WORKERS_JSON)
    assert fly_output.no_running_worker(workers) == (
        "no running worker: lab-worker (stalled), old-worker (landed); "
        "start a worker (or fix it) and run again"
    )
    assert fly_output.no_running_worker(fly_output.parse_workers("[]\n")) == (
        "no running worker: none; start a worker (or fix it) and run again"
    )
    assert fly_output.no_running_worker([*workers, {"name": "w", "state": "running"}]) is None


def test_workers_output_that_is_no_list_is_a_clear_error():
    with pytest.raises(fly_output.FlyError, match=r"^fly workers --json did not print a list$"):
        fly_output.parse_workers('{"name": "w"}')


def test_unreachable_server_is_explained():
    kind, text = fly_output.explain(CAPTURED["unreachable"]["stderr"], "ci", "http://127.0.0.1:18200")
    assert kind == "unreachable"
    assert text == (
        "the Concourse server of target 'ci' (http://127.0.0.1:18200) is unreachable: "
        'Get "http://127.0.0.1:18200/api/v1/info": dial tcp 127.0.0.1:18200: connect: connection refused'
    )


def test_version_mismatch_says_where_to_get_the_matching_fly():
    kind, text = fly_output.explain(CAPTURED["version_mismatch"]["stderr"], "v", "https://ci.example.com/")
    assert kind == "version_mismatch"
    assert "fly 8.2.5 and Concourse 7.14.0 differ in their major or minor version" in text
    assert fly_output.cli_download_url("https://ci.example.com/") in text
    assert "fly -t v sync" in text


def test_cli_download_url_uses_concourse_arch_and_platform_names():
    assert (
        fly_output.cli_download_url("https://ci/", machine="x86_64", system="Linux")
        == "https://ci/api/v1/cli?arch=amd64&platform=linux"
    )
    assert fly_output.cli_download_url("https://ci", machine="aarch64", system="Darwin").endswith(
        "arch=arm64&platform=darwin"
    )


def test_rejected_token_and_unknown_target_are_explained():
    assert fly_output.explain(CAPTURED["login_bad_token"]["stderr"], "ci2")[0] == "not_authorized"
    assert fly_output.explain(CAPTURED["unknown_target"]["stderr"], "nope")[0] == "unknown_target"
    assert fly_output.explain(CAPTURED["trigger_missing"]["stderr"], "ci") == (None, None)


def test_login_with_a_token_on_stdin_saves_the_target():
    capture = CAPTURED["login_token"]
    assert capture["rc"] == 0
    assert fly_output.terminal_lines(capture["stdout"])[-1] == "target saved"
    assert "-p" not in capture["argv"] and "-u" not in capture["argv"]


def test_login_warns_only_about_a_version_mismatch():
    capture = CAPTURED["login_version_warning"]
    assert capture["rc"] == 0
    assert "out of sync" in capture["stderr"]
    assert fly_output.VERSION_DISCREPANCY not in capture["stderr"]


def test_pause_of_a_missing_pipeline_fails_but_destroy_of_one_succeeds():
    assert (CAPTURED["pause_missing"]["rc"], CAPTURED["pause_missing"]["stderr"]) == (
        1,
        "pipeline 'nope' not found\n\n",
    )
    assert (CAPTURED["destroy_missing"]["rc"], CAPTURED["destroy_missing"]["stdout"]) == (
        0,
        "`nope` does not exist\n",
    )


def test_get_pipeline_json_is_one_line_with_the_jobs_a_trigger_may_name():
    stdout = CAPTURED["get_pipeline"]["stdout"]
    assert "\n" not in stdout  # fly prints Go's json.Marshal as it is
    assert fly_output.job_names(fly_output.parse_pipeline_config(stdout)) == ["build", "test"]
    rich = fly_output.parse_pipeline_config(CAPTURED["get_pipeline_rich"]["stdout"])
    assert fly_output.find_job(rich, "test")["disable_manual_trigger"] is True
    assert fly_output.find_job(rich, "deploy") is None


def test_get_pipeline_of_a_missing_pipeline_says_so_on_stderr():
    capture = CAPTURED["get_pipeline_missing"]
    assert (capture["rc"], capture["stdout"]) == (1, "")
    assert fly_output.PIPELINE_NOT_FOUND in fly_output.terminal_lines(capture["stderr"])


REAL_CONCOURSE = Path(__file__).resolve().parents[1] / "fixtures" / "fly" / "real-concourse"


def test_a_real_trigger_and_watch_of_the_lab_pipeline_parses_to_its_build_and_log():
    """fly 8.2.5 against the real Concourse 8.2.5 in the VM lab (tests/fixtures/fly/real-concourse)."""
    recorded = (REAL_CONCOURSE / "trigger-job-watch-push-from-worker.txt").read_text()
    output = fly_output.WatchOutput(recorded, 0)
    assert (output.pipeline, output.job, output.name, output.status) == (
        "nested-warden-lab",
        "push-from-worker",
        "2",
        "succeeded",
    )
    assert output.log_lines[0] == "selected worker: worker-vm-0"
    assert any(line.split()[-1:] == ["pushed"] for line in output.tail())
    assert "\x1b" not in "".join(output.log_lines)
