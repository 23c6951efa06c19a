"""The CloudFormation templates that `osls package` makes offline hold what docs/DEPLOY.md promises."""

from __future__ import annotations

import copy
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest

from ieltsprep.deploy.build import FUNCTIONS, ROOT
from ieltsprep.deploy.check import lint, package, resources, template_problems

pytestmark = pytest.mark.skipif(
    not (ROOT / "node_modules" / ".bin" / "osls").exists(), reason="npm packages not installed (make node-deps)"
)


@pytest.fixture(scope="module")
def service_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the service with placeholder packages, so the templates can be made without building."""
    directory = tmp_path_factory.mktemp("service")
    shutil.copy2(ROOT / "serverless.yml", directory / "serverless.yml")
    shutil.copytree(ROOT / "deploy" / "resources", directory / "deploy" / "resources")
    (directory / "build" / "lambda").mkdir(parents=True)
    for function in FUNCTIONS:
        with zipfile.ZipFile(directory / "build" / "lambda" / f"{function}.zip", "w") as archive:
            archive.writestr("lambda_handler.py", "")
    return directory


@pytest.fixture(scope="module", params=["us-east-1", "ap-southeast-1"])
def packaged(request: pytest.FixtureRequest, service_dir: Path) -> tuple[str, Path, dict[str, Any]]:
    region: str = request.param
    out_dir = service_dir / ".out" / region
    return region, out_dir, package(service_dir, region, out_dir)


def test_every_region_template_holds_the_promised_properties(packaged: tuple[str, Path, dict[str, Any]]) -> None:
    _region, _out, template = packaged
    assert template_problems(template) == []


def test_cfn_lint_finds_no_errors(packaged: tuple[str, Path, dict[str, Any]]) -> None:
    _region, out_dir, _template = packaged
    clean, output = lint(out_dir / "cloudformation-template-update-stack.json")
    assert clean, output


def test_the_four_websocket_routes_and_the_http_catch_all_exist(packaged: tuple[str, Path, dict[str, Any]]) -> None:
    _region, _out, template = packaged
    keys = {r["Properties"]["RouteKey"] for _, r in resources(template, "AWS::ApiGatewayV2::Route")}
    assert {"$connect", "$disconnect", "$default", "nova-sonic-stream"} <= keys


def test_functions_run_python312_on_arm64_with_their_own_roles(packaged: tuple[str, Path, dict[str, Any]]) -> None:
    _region, _out, template = packaged
    functions = dict(resources(template, "AWS::Lambda::Function"))
    handlers = {f["Properties"]["Handler"] for f in functions.values()}
    assert handlers == {
        "lambda_handler.http_handler",
        "lambda_handler.ws_handler",
        "lambda_handler.speaking_worker",
        "lambda_handler.jobs_handler",
    }
    roles = [f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()]
    assert len(set(roles)) == len(roles) == 4


def test_global_tables_exist_only_in_the_primary_stack(packaged: tuple[str, Path, dict[str, Any]]) -> None:
    _region, _out, template = packaged
    tables = dict(resources(template, "AWS::DynamoDB::GlobalTable"))
    assert len(tables) == 5
    assert all(t["Condition"] == "IsPrimaryRegion" for t in tables.values())
    assert template["Conditions"]["IsPrimaryRegion"]["Fn::Equals"][1] == "us-east-1"


def test_secrets_are_referenced_by_parameter_name_only(packaged: tuple[str, Path, dict[str, Any]]) -> None:
    _region, _out, template = packaged
    for _name, function in resources(template, "AWS::Lambda::Function"):
        env = function["Properties"]["Environment"]["Variables"]
        assert env["GOOGLE_SERVICE_ACCOUNT_PARAMETER"].startswith("/ielts-genai-prep/prod/")
        assert env["APPLE_PRIVATE_KEY_PARAMETER"].startswith("/ielts-genai-prep/prod/")
        assert "IELTSPREP_INTERNAL_TOKEN_SECRET" not in env
        assert env["IELTSPREP_STAGE"] == "prod" and env["IELTSPREP_STORE"] == "dynamodb"


def _first(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(resources(template, kind))[1]


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (
            lambda t: _first(t, "AWS::IAM::Role")["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].append(
                {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}
            ),
            "wildcard action",
        ),
        (lambda t: _first(t, "AWS::DynamoDB::GlobalTable")["Properties"].pop("SSESpecification"), "not encrypted"),
        (
            lambda t: _first(t, "AWS::DynamoDB::GlobalTable")["Properties"]["Replicas"][0].pop(
                "PointInTimeRecoverySpecification"
            ),
            "point-in-time recovery off",
        ),
        (lambda t: _first(t, "AWS::DynamoDB::GlobalTable")["Properties"].pop("TimeToLiveSpecification"), "TTL"),
        (lambda t: _first(t, "AWS::Lambda::Function")["Properties"].update(Architectures=["x86_64"]), "architectures"),
    ],
)
def test_the_checker_catches_a_broken_template(
    packaged: tuple[str, Path, dict[str, Any]], breakage: Any, expected: str
) -> None:
    _region, _out, template = packaged
    broken = copy.deepcopy(template)
    breakage(broken)
    assert any(expected in problem for problem in template_problems(broken))
