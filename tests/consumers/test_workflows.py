"""The GitHub workflows parse and keep their promises: tests on every pull request, a
policy-checked preview with short-lived AWS credentials, deploys behind an environment,
pinned actions, least-privilege permissions and no long-lived AWS secrets."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from consumers_support import WORKFLOWS

NAMES = ("test.yml", "preview.yml", "deploy.yml", "aws-smoke.yml")
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@(v\d+|[0-9a-f]{40})$")


def load(name: str) -> dict[str, Any]:
    parsed: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    parsed["on"] = parsed.pop(True, parsed.get("on"))
    return {str(key): value for key, value in parsed.items()}


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def action(workflow: dict[str, Any], name: str) -> dict[str, Any]:
    found = [s for s in steps(workflow) if s.get("uses", "").split("@")[0] == name]
    assert len(found) == 1, f"expected one {name} step"
    return found[0]


def only_job(workflow: dict[str, Any]) -> dict[str, Any]:
    (job,) = workflow["jobs"].values()
    assert isinstance(job, dict)
    return job


def test_no_other_workflows_than_the_known_ones() -> None:
    assert sorted(p.name for p in WORKFLOWS.glob("*.y*ml")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_workflow_is_least_privilege_pinned_and_free_of_aws_secrets(name: str) -> None:
    text = (WORKFLOWS / name).read_text()
    workflow = load(name)
    assert workflow["permissions"] == {"contents": "read"}
    for job in workflow["jobs"].values():
        assert "write-all" not in str(job.get("permissions", ""))
        assert job.get("timeout-minutes"), "a hung job must not run for six hours"
    unpinned = [s["uses"] for s in steps(workflow) if "uses" in s and not PINNED.match(s["uses"])]
    assert unpinned == []
    assert "pull_request_target" not in workflow["on"]
    assert not re.search(r"secrets\.AWS_|aws-access-key-id|aws-secret-access-key", text)
    secrets = set(re.findall(r"secrets\.(\w+)", text))
    assert secrets <= {"PULUMI_ACCESS_TOKEN"}


def test_every_pull_request_runs_the_whole_suite_on_python_3_11() -> None:
    workflow = load("test.yml")
    assert "pull_request" in workflow["on"]
    assert action(workflow, "actions/setup-python")["with"]["python-version"] == "3.11"
    assert [s["run"] for s in steps(workflow) if "run" in s] == ["make test"]


def test_pull_requests_get_a_policy_checked_preview_of_dev_as_a_comment() -> None:
    workflow = load("preview.yml")
    assert set(workflow["on"]) == {"pull_request"}
    job = only_job(workflow)
    assert job["permissions"] == {
        "contents": "read",
        "id-token": "write",
        "pull-requests": "write",
    }
    credentials = action(workflow, "aws-actions/configure-aws-credentials")["with"]
    assert credentials["role-to-assume"].startswith("${{ vars.")
    preview = action(workflow, "pulumi/actions")["with"]
    assert preview["command"] == "preview"
    assert preview["stack-name"].endswith("dev")
    assert preview["policyPacks"] == "policy"  # pulumi/actions passes `--policy-pack policy`
    assert preview["comment-on-pr"] is True
    assert (Path(WORKFLOWS).parents[1] / "policy" / "PulumiPolicy.yaml").exists()


def test_main_is_deployed_behind_the_production_environment() -> None:
    workflow = load("deploy.yml")
    assert workflow["on"] == {"push": {"branches": ["main"]}}
    job = only_job(workflow)
    assert job["environment"] == "production"
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    assert workflow["concurrency"]["cancel-in-progress"] is False
    credentials = action(workflow, "aws-actions/configure-aws-credentials")["with"]
    assert credentials["role-to-assume"].startswith("${{ vars.")
    deploy = action(workflow, "pulumi/actions")["with"]
    assert deploy["command"] == "up"
    assert deploy["policyPacks"] == "policy"


def test_the_preview_runs_verify_with_credentials_before_pulumi() -> None:
    listed = steps(load("preview.yml"))
    verify = next(
        i for i, s in enumerate(listed) if "orderflow_ops verify --from-program" in s.get("run", "")
    )
    credentials = next(
        i for i, s in enumerate(listed) if s.get("uses", "").startswith("aws-actions/")
    )
    pulumi = next(i for i, s in enumerate(listed) if s.get("uses", "").startswith("pulumi/"))
    assert credentials < verify < pulumi


def test_the_aws_smoke_deploys_an_ephemeral_stack_checks_it_and_always_destroys_it() -> None:
    workflow = load("aws-smoke.yml")
    assert set(workflow["on"]) == {"workflow_dispatch", "schedule"}
    assert workflow["on"]["schedule"][0]["cron"]
    assert workflow["concurrency"]["cancel-in-progress"] is False
    job = only_job(workflow)
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    assert "github.run_id" in job["env"]["STACK"], "one stack per run: nothing shared"
    credentials = action(workflow, "aws-actions/configure-aws-credentials")
    assert re.search(r"@[0-9a-f]{40}$", credentials["uses"]), "pinned by commit SHA"
    assert credentials["with"]["role-to-assume"].startswith("${{ vars.")
    listed = steps(workflow)
    pulumi = [(i, s) for i, s in enumerate(listed) if s.get("uses", "").startswith("pulumi/")]
    commands = [s["with"]["command"] for _, s in pulumi]
    assert commands == ["up", "destroy"]
    (up, up_step), (destroy, destroy_step) = pulumi
    assert up_step["with"]["stack-name"] == destroy_step["with"]["stack-name"] == "${{ env.STACK }}"
    assert destroy_step["if"] == "always()"
    assert destroy_step["with"]["remove"] is True
    assert destroy == len(listed) - 1, "destroy is the last step"
    runs = [(i, s["run"]) for i, s in enumerate(listed) if "run" in s]
    verify = next(i for i, r in runs if "orderflow_ops verify --stack-outputs" in r)
    smoke = next(i for i, r in runs if "orderflow_ops smoke --stack-outputs" in r)
    saved = next(i for i, r in runs if "pulumi stack output --json" in r)
    assert up < saved < verify < smoke < destroy
    copied = next(r for _, r in runs if r.startswith("cp Pulumi.dev.yaml"))
    assert '"Pulumi.${STACK}.yaml"' in copied, "the ephemeral stack takes the dev settings"


@pytest.mark.parametrize("name", ["preview.yml", "deploy.yml", "aws-smoke.yml"])
def test_the_program_s_virtualenv_is_installed_before_pulumi_runs(name: str) -> None:
    """pulumi/actions runs natively: Pulumi.yaml's .venv must exist first."""
    listed = steps(load(name))
    install = next(i for i, s in enumerate(listed) if s.get("run") == "make install")
    pulumi = next(i for i, s in enumerate(listed) if s.get("uses", "").startswith("pulumi/"))
    assert install < pulumi
