"""The stage contract (plugins/filter/stages.py) and the report's rules over it."""

import time

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.nested.warden.plugins.filter.stages import (
    failed_stage_result,
    predicted_fix,
    report_details,
    report_summary,
    stage_record,
    stage_result,
    stage_skip_reason,
)

STAGES = ["lab", "concourse", "registry_fix", "image_build", "pipeline", "nested_test"]


def test_every_result_has_the_same_keys_whatever_was_given():
    bare = stage_result("passed")
    full = stage_result("fixed", "why", ["a"], {"x": 1}, [{"what": "w", "reason": "r"}], time.time(), True)
    assert (
        set(bare)
        == set(full)
        == {"status", "reason", "evidence", "outputs", "not_covered", "predicted", "seconds"}
    )
    assert bare["seconds"] is None and full["seconds"] >= 0


@pytest.mark.parametrize("status", ["would fix", "ok", "", None, "PASSED"])
def test_unknown_status_is_refused_with_the_allowed_ones(status):
    with pytest.raises(AnsibleFilterError, match="passed, fixed, skipped, failed"):
        stage_result(status)


def test_evidence_as_a_string_becomes_one_line_and_empty_lines_are_dropped():
    assert stage_result("passed", evidence="one")["evidence"] == ["one"]
    assert stage_result("passed", evidence=["a", "", None, "b"])["evidence"] == ["a", "b"]


def test_not_covered_items_need_what():
    with pytest.raises(AnsibleFilterError, match="not_covered"):
        stage_result("passed", not_covered=[{"reason": "no what"}])


def test_seconds_measured_from_the_start():
    assert stage_result("passed", started=time.time() - 5)["seconds"] == pytest.approx(5, abs=0.5)


def test_what_a_role_hands_on_is_shaped_by_the_runner_with_seconds_and_check_mode():
    handed_on = {"status": "fixed", "reason": "why", "evidence": "cause", "outputs": {"x": 1}}
    shaped = stage_result(handed_on, started=time.time() - 2, predicted=True)
    assert shaped["seconds"] == pytest.approx(2, abs=0.5)
    assert shaped["evidence"] == ["cause"] and shaped["outputs"] == {"x": 1} and shaped["predicted"]
    assert stage_result({"status": "skipped", "predicted": True})["predicted"]
    assert set(shaped) == set(stage_result("passed"))


@pytest.mark.parametrize("handed_on", [{}, {"status": "done"}, {"reason": "no status"}])
def test_a_handed_on_result_without_a_known_status_is_refused(handed_on):
    with pytest.raises(AnsibleFilterError, match="needs a status"):
        stage_result(handed_on)


def test_skip_reason_names_the_failed_stage_first_then_check_mode_causes():
    assert stage_skip_reason("image_build") == ""
    assert stage_skip_reason("image_build", "concourse", True, "registry_fix") == "the concourse stage failed"
    assert "lab hosts do not exist" in stage_skip_reason("concourse", "", True)
    assert stage_skip_reason("lab", "", True) == ""
    assert "fix the registry_fix stage predicts" in stage_skip_reason(
        "image_build", "", False, "registry_fix"
    )


def test_only_the_first_fix_check_mode_predicts_is_kept():
    fixed = stage_result("fixed", predicted=True)
    assert predicted_fix(fixed, "registry_fix", True) == "registry_fix"
    assert predicted_fix(fixed, "registry_fix", False) == ""
    assert predicted_fix(stage_result("fixed"), "registry_fix", True) == ""
    assert predicted_fix(fixed, "image_build", True, "registry_fix") == "registry_fix"


def test_failed_result_takes_the_first_line_as_reason_and_the_rest_as_evidence():
    failed = {"msg": ["The nested test failed at: workload", "workload: boom"], "stderr_lines": ["e1"]}
    result = failed_stage_result(failed)
    assert result["status"] == "failed"
    assert result["reason"] == "The nested test failed at: workload"
    assert result["evidence"] == ["workload: boom", "e1"]


def test_failed_result_the_role_set_itself_is_kept():
    own = stage_result("failed", "fly said no", outputs={"builds": [1]})
    assert failed_stage_result({"msg": "generic"}, None, own)["outputs"] == {"builds": [1]}
    # a passed result left over from an earlier include does not hide the failure
    assert failed_stage_result({"msg": "x"}, None, stage_result("passed"))["reason"] == "x"


def test_record_carries_when_it_was_recorded():
    assert stage_record(stage_result("passed"))["recorded_at"].endswith("Z")


def test_stage_without_result_is_not_run_and_a_failed_one_fails_the_report():
    summary = report_summary(
        {"lab": stage_result("passed"), "concourse": stage_result("failed", "x")}, STAGES
    )
    statuses = {row["stage"]: row["status"] for row in summary["stages"]}
    assert statuses == {
        "lab": "passed",
        "concourse": "failed",
        "registry_fix": "not run",
        "image_build": "not run",
        "pipeline": "not run",
        "nested_test": "not run",
    }
    assert summary["overall"] == "failed" and summary["failed_stages"] == ["concourse"]


def test_root_causes_of_this_run_and_of_the_run_that_fixed_them():
    fixed_now = stage_result("fixed", evidence=["registry on 127.0.0.1 only"])
    summary = report_summary({"registry_fix": fixed_now}, STAGES)
    assert summary["root_causes"] == [
        {"stage": "registry_fix", "cause": "registry on 127.0.0.1 only", "when": "fixed by this run"}
    ]
    earlier = {
        **stage_result("fixed", evidence=["undeclared docker_registry.http.addr"]),
        "recorded_at": "2026-11-28T10:00:00Z",
    }
    later = report_summary({"registry_fix": stage_result("passed")}, STAGES, {"registry_fix": earlier})
    assert later["root_causes"][0]["cause"] == "undeclared docker_registry.http.addr"
    assert "2026-11-28T10:00:00Z" in later["root_causes"][0]["when"]
    assert later["overall"] == "passed"


def test_check_mode_fixes_are_worded_as_predictions():
    predicted = stage_result("fixed", evidence=["cause"], predicted=True)
    summary = report_summary({"registry_fix": predicted}, STAGES, check_mode=True)
    assert summary["root_causes"][0]["when"] == "would be fixed by this run (check mode)"
    assert summary["check_mode"] is True


def test_not_covered_lists_skipped_stages_results_items_and_the_inventory():
    results = {
        "pipeline": stage_result("skipped", "no Concourse target"),
        "nested_test": stage_result("passed", not_covered=[{"what": "garden", "reason": "no gdn"}]),
    }
    summary = report_summary(results, STAGES, not_covered=[{"what": "create-env", "reason": "no director"}])
    assert summary["not_covered"] == [
        {"what": "the pipeline stage", "reason": "no Concourse target"},
        {"what": "garden", "reason": "no gdn"},
        {"what": "create-env", "reason": "no director"},
    ]


def details(outputs, stage):
    return {item["label"]: item["value"] for item in report_details(outputs, stage)}


def test_report_shows_the_registry_url_method_and_authentication_not_the_endpoint_keys():
    endpoint = {
        "url": "https://172.30.77.10:5000",
        "host_port": "172.30.77.10:5000",
        "scheme": "https",
        "ca_cert": "-----BEGIN CERTIFICATE-----",
        "username": "admin",
        "authenticated": True,
    }
    shown = details(
        {"endpoint": endpoint, "method": "bind", "catalog": ["warden-cpi-containerd"]}, "registry_fix"
    )
    assert shown == {
        "registry URL": "https://172.30.77.10:5000",
        "method": "bind",
        "authentication": "as admin",
        "CA certificate": "given",
        "repositories": "warden-cpi-containerd",
    }


def test_report_shows_the_image_reference_and_digest():
    outputs = {
        "image": "172.30.77.10:5000/warden-cpi-containerd:latest",
        "digest": "sha256:" + "a" * 64,
        "built": False,
        "pushed": True,
        "size_bytes": 250_000_000,
    }
    shown = details(outputs, "image_build")
    assert shown["image"] == outputs["image"] and shown["digest"] == outputs["digest"]
    assert (shown["built this run"], shown["pushed this run"], shown["size"]) == ("no", "yes", "250.0 MB")
    assert (
        details({"image": "x:latest", "digest": "", "built": True, "pushed": False}, "image_build")["digest"]
        == "not pushed"
    )


def test_report_shows_the_nested_mode_and_the_deployment_addresses():
    nested = details(
        {"mode": "caps", "privileged_refusal": "unable to apply caps\nmore", "failed_checks": []},
        "nested_test",
    )
    assert nested == {"mode": "caps", "--privileged refused": "unable to apply caps", "failed checks": "none"}
    deployment = {
        "registry": {"bind": "127.0.0.1", "port": 5000},
        "proxy": {"address": "*", "port": 443, "tls": True, "auth": True},
    }
    concourse = details(
        {"deployment": deployment, "ops_files": ["ops-files/seed/docker-registry-seed.yml"]}, "concourse"
    )
    assert concourse["registry job listens on"] == "127.0.0.1:5000"
    assert concourse["proxy job"] == "*:443 (TLS, basic auth)"


def test_an_unknown_stages_outputs_are_values_never_a_list_of_keys():
    shown = details(
        {"endpoint": {"url": "u", "authenticated": True}, "notes": "a\nb", "items": [{"x": 1}]}, "custom"
    )
    assert shown == {
        "endpoint url": "u",
        "endpoint authenticated": "yes",
        "notes": "a ...",
        "items": "1 entries",
    }


def test_summary_rows_carry_their_details():
    summary = report_summary({"registry_fix": stage_result("passed", outputs={"method": "proxy"})}, STAGES)
    rows = {row["stage"]: row for row in summary["stages"]}
    assert rows["registry_fix"]["details"] == [{"label": "method", "value": "proxy"}]
    assert rows["lab"]["details"] == []


def test_report_says_where_the_vm_lab_ran_which_garden_and_what_its_check_did():
    vms = {
        "worker-vm-0": {
            "action": "running", "kernel": "6.1.0-50-amd64", "cgroup": "v2", "apparmor": True,
            "docker": "20.10.24+dfsg1", "accel": "tcg", "accel_reason": "KVM was tried and given up",
        },
        "worker-vm-1": {"action": "skipped"},
    }  # fmt: skip
    assert details({"network": "vm-lab", "hosts": ["concourse-0"], "vms": vms}, "lab")["VMs"] == (
        "worker-vm-0: kernel 6.1.0-50-amd64, cgroup v2, AppArmor on, Docker 20.10.24+dfsg1, "
        "tcg (KVM was tried and given up)"
    )
    assert details({"image": "x:1", "garden": "guardian c2d9348 (main)"}, "image_build")["Garden"] == (
        "guardian c2d9348 (main)"
    )
    checks = {
        "cgroup_nesting": {"done": "moved 3 processes to /sys/fs/cgroup/init"},
        "garden": {
            "steps": [
                {"name": "start", "status": "passed"},
                {"name": "privileged", "status": "passed"},
                {"name": "grootfs_disk_limit", "status": "refused"},
            ]
        },
    }
    shown = details(
        {"host": "worker-vm-0", "mode": "privileged", "failed_checks": [], "checks": checks}, "nested_test"
    )
    assert shown["host"] == "worker-vm-0"
    assert shown["cgroup nesting"] == "moved 3 processes to /sys/fs/cgroup/init"
    assert shown["Garden check"] == "passed: start, privileged; refused: grootfs_disk_limit"
    skipped = {"garden": {"status": "skipped", "reason": "no Garden binaries in the image"}}
    assert (
        details({"checks": skipped}, "nested_test")["Garden check"]
        == "skipped: no Garden binaries in the image"
    )


def test_report_shows_each_build_with_its_nested_check_steps_and_the_lab_concourse():
    outputs = {
        "pipeline": "nested-warden-lab",
        "concourse_url": "http://127.0.0.1:8078",
        "fly_version": "8.2.5",
        "builds": [
            {"job": "push-from-worker", "name": "1", "status": "succeeded", "reused": True},
            {
                "job": "nested-test",
                "name": "2",
                "status": "failed",
                "summary": {
                    "passed": False,
                    "steps": [{"step": "containerd", "passed": True}, {"step": "garden", "passed": False}],
                },
            },
            {"job": "later", "triggered": False},
        ],
    }
    assert details(outputs, "pipeline")["builds"] == (
        "push-from-worker #1 succeeded (its latest build; not run again); "
        "nested-test #2 failed [nested-check: containerd passed, garden FAILED]; later not triggered"
    )
    web = {
        "url": "http://127.0.0.1:8078",
        "version": "8.2.5",
        "worker": "worker-vm-0",
        "worker_state": "running",
    }
    assert details({"web": web}, "concourse")["lab Concourse"] == (
        "http://127.0.0.1:8078 (Concourse 8.2.5; worker worker-vm-0 running)"
    )
    assert "lab Concourse" not in details({"web": {}}, "concourse")
