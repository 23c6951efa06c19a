"""`make deploy-check`: package every region offline, lint each template, and check what the stack must hold.

Runs with no AWS account: dummy credentials satisfy the framework, nothing is sent anywhere. Steps:
1. build the Lambda packages (``ieltsprep.deploy.build``; skipped with ``--skip-build`` when they exist),
2. ``osls package --stage prod --region R`` for us-east-1, eu-west-1 and ap-southeast-1,
3. ``cfn-lint`` on each generated template (errors fail the check; framework warnings are printed),
4. ``template_problems`` on each template: the properties docs/DEPLOY.md promises.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ieltsprep.deploy.build import FUNCTIONS, ROOT, limit_bytes
from ieltsprep.settings import REGIONS

PRIMARY_REGION = "us-east-1"
WS_ROUTES = {"$connect", "$disconnect", "$default", "nova-sonic-stream"}
TABLES = ("users", "assessments", "sessions", "ledger", "content")
# X-Ray's write actions have no resource-level permissions: the only actions allowed on Resource "*".
RESOURCELESS_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
Template = dict[str, Any]


def offline_environment() -> dict[str, str]:
    """The environment for the framework: dummy credentials, no telemetry, no update checks."""
    env = dict(os.environ)
    env.update(
        AWS_ACCESS_KEY_ID="offline",
        AWS_SECRET_ACCESS_KEY="offline",
        AWS_SESSION_TOKEN="offline",
        SLS_TELEMETRY_DISABLED="1",
        SLS_NOTIFICATIONS_MODE="off",
        SLS_DEPRECATION_DISABLE="*",
    )
    return env


def package(service_dir: Path, region: str, out_dir: Path, *, stage: str = "prod") -> Template:
    """Run ``osls package`` for one region and return the generated CloudFormation template."""
    osls = ROOT / "node_modules" / ".bin" / "osls"
    if not osls.exists():
        raise SystemExit("osls is not installed: run `npm ci` first")
    shutil.rmtree(out_dir, ignore_errors=True)
    command = [str(osls), "package", "--stage", stage, "--region", region, "--package", str(out_dir)]
    result = subprocess.run(command, cwd=service_dir, env=offline_environment(), capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"osls package failed for {region}:\n{result.stdout}\n{result.stderr}")
    template: Template = json.loads((out_dir / "cloudformation-template-update-stack.json").read_text())
    return template


def lint(template_path: Path) -> tuple[bool, str]:
    """Run cfn-lint; returns (no errors, its output). Exit code bit 2 means errors, 4 warnings, 8 informational."""
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run([str(cfn_lint), str(template_path)], capture_output=True, text=True, check=False)
    return not (result.returncode & 3), result.stdout + result.stderr


def resources(template: Template, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(logical id, resource) pairs of one type."""
    for name, resource in template.get("Resources", {}).items():
        if resource.get("Type") == kind:
            yield name, resource


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _iam_problems(template: Template) -> list[str]:
    problems = []
    policies: list[tuple[str, dict[str, Any]]] = []
    for name, role in resources(template, "AWS::IAM::Role"):
        for policy in role["Properties"].get("Policies", []):
            policies.append((name, policy["PolicyDocument"]))
    for name, policy in resources(template, "AWS::IAM::Policy"):
        policies.append((name, policy["Properties"]["PolicyDocument"]))
    for name, document in policies:
        for statement in _as_list(document.get("Statement", [])):
            actions = [str(a) for a in _as_list(statement.get("Action", []))]
            if any(a == "*" or a.endswith(":*") for a in actions):
                problems.append(f"{name}: wildcard action in {actions}")
            wildcard_resource = any(r == "*" for r in _as_list(statement.get("Resource", [])))
            if wildcard_resource and not set(actions) <= RESOURCELESS_ACTIONS:
                problems.append(f"{name}: Resource '*' for {actions}")
    return problems


def _function_problems(template: Template) -> list[str]:
    problems = []
    functions = dict(resources(template, "AWS::Lambda::Function"))
    if len(functions) != len(FUNCTIONS):
        problems.append(f"expected {len(FUNCTIONS)} functions, found {sorted(functions)}")
    roles = set()
    for name, function in functions.items():
        props = function["Properties"]
        if props.get("Runtime") != "python3.12":
            problems.append(f"{name}: runtime {props.get('Runtime')}")
        if props.get("Architectures") != ["arm64"]:
            problems.append(f"{name}: architectures {props.get('Architectures')}")
        if props.get("TracingConfig", {}).get("Mode") != "Active":
            problems.append(f"{name}: X-Ray tracing is not active")
        roles.add(json.dumps(props.get("Role"), sort_keys=True))
        env = json.dumps(props.get("Environment", {}))
        if "BEGIN" in env or "PRIVATE KEY" in env:
            problems.append(f"{name}: a secret in the environment")
        if "SpeakingWorker" in name and props.get("Timeout") != 900:
            problems.append(f"{name}: the speaking worker needs 900 s, has {props.get('Timeout')}")
    if len(roles) != len(functions):
        problems.append("functions share IAM roles; each needs its own")
    groups = dict(resources(template, "AWS::Logs::LogGroup"))
    if len(groups) < len(functions) or any("RetentionInDays" not in g["Properties"] for g in groups.values()):
        problems.append("every function needs a log group with a retention")
    return problems


def _api_problems(template: Template) -> list[str]:
    problems = []
    routes = {r["Properties"]["RouteKey"]: r for _, r in resources(template, "AWS::ApiGatewayV2::Route")}
    missing = WS_ROUTES - set(routes)
    if missing:
        problems.append(f"missing WebSocket routes {sorted(missing)}")
    apis = dict(resources(template, "AWS::ApiGatewayV2::Api"))
    ws = [a for a in apis.values() if a["Properties"].get("ProtocolType") == "WEBSOCKET"]
    if not ws or ws[0]["Properties"].get("RouteSelectionExpression") != "$request.body.action":
        problems.append("the WebSocket API must select routes on $request.body.action")
    http = [a for a in apis.values() if a["Properties"].get("ProtocolType") == "HTTP"]
    origins = http[0]["Properties"].get("CorsConfiguration", {}).get("AllowOrigins", []) if http else []
    if not origins or "*" in origins:
        problems.append(f"CORS must list explicit origins, has {origins}")
    return problems


def _table_problems(template: Template) -> list[str]:
    problems = []
    tables = dict(resources(template, "AWS::DynamoDB::GlobalTable"))
    if len(tables) != len(TABLES):
        return [f"expected {len(TABLES)} global tables, found {sorted(tables)}"]
    condition = template.get("Conditions", {}).get("IsPrimaryRegion")
    if condition is None:
        problems.append("global tables must be created by the primary region's stack only")
    for name, table in tables.items():
        props = table["Properties"]
        if table.get("Condition") != "IsPrimaryRegion":
            problems.append(f"{name}: not conditional on the primary region")
        if not props.get("SSESpecification", {}).get("SSEEnabled"):
            problems.append(f"{name}: not encrypted")
        ttl = props.get("TimeToLiveSpecification", {})
        if ttl.get("AttributeName") != "expires_at" or not ttl.get("Enabled"):
            problems.append(f"{name}: TTL must be on expires_at")
        if props.get("StreamSpecification", {}).get("StreamViewType") != "NEW_AND_OLD_IMAGES":
            problems.append(f"{name}: streams must carry new and old images")
        replicas = props.get("Replicas", [])
        if {r.get("Region") for r in replicas} != set(REGIONS):
            problems.append(f"{name}: replicas must be {REGIONS}")
        for replica in replicas:
            if not replica.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"):
                problems.append(f"{name}: point-in-time recovery off in {replica.get('Region')}")
    return problems


def _monitoring_problems(template: Template) -> list[str]:
    alarms = {a["Properties"]["MetricName"] for _, a in resources(template, "AWS::CloudWatch::Alarm")}
    needed = {"Errors", "Throttles", "Latency", "ThrottledRequests"}
    return [f"missing alarms on {sorted(needed - alarms)}"] if needed - alarms else []


def template_problems(template: Template) -> list[str]:
    """Everything a region's template lacks of what docs/DEPLOY.md promises (empty when all holds)."""
    return (
        _function_problems(template)
        + _iam_problems(template)
        + _api_problems(template)
        + _table_problems(template)
        + _monitoring_problems(template)
    )


def package_sizes(out_dir: Path) -> dict[str, int]:
    """Zipped size of each built function package."""
    return {f: (out_dir / f"{f}.zip").stat().st_size for f in FUNCTIONS if (out_dir / f"{f}.zip").exists()}


def main(argv: list[str] | None = None) -> int:
    """Run the whole offline deployment check; non-zero exit on any problem."""
    parser = argparse.ArgumentParser(description="Package and check the AWS stacks offline.")
    parser.add_argument("--skip-build", action="store_true", help="reuse existing Lambda packages")
    parser.add_argument("--regions", nargs="*", default=list(REGIONS))
    args = parser.parse_args(argv)
    packages = ROOT / "build" / "lambda"
    if not (args.skip_build and all((packages / f"{f}.zip").exists() for f in FUNCTIONS)):
        from ieltsprep.deploy.build import main as build_main

        if build_main([]) != 0:
            return 1
    failed = False
    for function, size in package_sizes(packages).items():
        verdict = "ok" if size <= limit_bytes(function) else f"OVER {limit_bytes(function) // 2**20} MB"
        print(f"package {function:15s} {size / 2**20:6.2f} MB zipped  {verdict}")
        failed |= size > limit_bytes(function)
    for region in args.regions:
        out_dir = ROOT / "build" / "cloudformation" / region
        template = package(ROOT, region, out_dir)
        template_path = out_dir / "cloudformation-template-update-stack.json"
        clean, output = lint(template_path)
        problems = template_problems(template)
        print(f"{region}: cfn-lint {'no errors' if clean else 'ERRORS'}; {len(problems)} property problems")
        if not clean:
            print(output)
        for problem in problems:
            print(f"  - {problem}")
        failed |= not clean or bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
