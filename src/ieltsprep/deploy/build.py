"""Build one zip per Lambda function for python3.12 on arm64, without Docker.

Dependencies come from PyPI as manylinux aarch64 wheels (``pip install --platform ... --only-binary=:all:
--target``); the package's own code is copied without what only runs on a laptop (the local speech engine, the
local gateway, the CLI). Zips are deterministic (sorted entries, fixed timestamps) so a rebuild of the same inputs
gives the same bytes and CloudFormation sees no change.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path

from ieltsprep.scoring.spelling import DICTIONARIES, PACKAGED_DIR, SYSTEM_DIR

ROOT = Path(__file__).resolve().parents[3]
FUNCTIONS: tuple[str, ...] = ("http", "ws", "speakingWorker", "jobs")
LIMIT_BYTES = 15 * 1024 * 1024
# Per-function exceptions to the budget (none today). spaCy does not fit a zip package: with its English pipeline
# and numpy the jobs function measured 82 MB zipped and 254 MB unpacked, over Lambda's 250 MB, so on AWS the
# Bedrock engine runs without the grammar checker and says so in its prompt (docs/DEPLOY.md).
FUNCTION_LIMIT_BYTES: dict[str, int] = {}
PLATFORM_ARGS = (
    "--platform",
    "manylinux2014_aarch64",
    "--implementation",
    "cp",
    "--python-version",
    "3.12",
    "--only-binary=:all:",
)
# Parts of the package that never run on Lambda.
EXCLUDED_CODE = (
    "ieltsprep/edges/gateway",
    "ieltsprep/adapters/speech/local.py",
    "ieltsprep/adapters/speech/stt.py",
    "ieltsprep/adapters/speech/tts.py",
    "ieltsprep/adapters/speech/endpointing.py",
    "ieltsprep/adapters/speech/vad.py",
    "ieltsprep/adapters/speech/smart_turn.py",
    "ieltsprep/adapters/speech/turn_detection.py",
    "ieltsprep/adapters/speech/models.py",
    "ieltsprep/adapters/stores/local_store.py",
    "ieltsprep/deploy",
)
# Files in dependencies that a function never reads.
PRUNED_SUFFIXES = (".pyc", ".pyi", ".c", ".h", ".pxd", ".pyx")
PRUNED_DIRS = ("__pycache__", "tests", "test", "testing")
# Requirement lines marked so need the Lambda runtime's Python 3.12: kept for the arm64 build, dropped when a package
# is staged for this machine's Python (pip evaluates environment markers against the running interpreter, not
# against --python-version, so a marker cannot express this).
LAMBDA_ONLY = "# lambda-only"
# Modules a package must hold, or the function cannot do its job on AWS.
REQUIRED_MODULES: dict[str, tuple[str, ...]] = {"speakingWorker": ("aws_sdk_bedrock_runtime", "awscrt")}


def _install(function: str, target: Path, *, native: bool = False) -> None:
    requirements = ROOT / "deploy" / "requirements" / f"{function}.txt"
    lines = requirements.read_text().splitlines()
    if native:
        lines = [line for line in lines if LAMBDA_ONLY not in line]
    # Included files are named relative to the requirement file; the staged copy lives elsewhere.
    lines = [f"-r {requirements.parent / line[3:].strip()}" if line.startswith("-r ") else line for line in lines]
    staged = target.parent / f".{function}-requirements.txt"
    staged.write_text("\n".join(lines) + "\n")
    command = [sys.executable, "-m", "pip", "install", "-q", "--no-compile", "--target", str(target)]
    platform = () if native else PLATFORM_ARGS
    try:
        subprocess.run([*command, *platform, "-r", str(staged)], check=True, cwd=requirements.parent)
    finally:
        staged.unlink()
    missing = [m for m in REQUIRED_MODULES.get(function, ()) if not native and not (target / m).exists()]
    if missing:
        raise SystemExit(f"the {function} package lacks {', '.join(missing)}")


def _prune(target: Path) -> None:
    for path in sorted(target.rglob("*"), reverse=True):
        if path.is_dir() and path.name in PRUNED_DIRS:
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_file() and path.suffix in PRUNED_SUFFIXES:
            path.unlink()
    # google-api-python-client ships discovery documents of every Google API: keep the one we call.
    for document in target.glob("googleapiclient/discovery_cache/documents/*.json"):
        if not document.name.startswith("androidpublisher."):
            document.unlink()
    # pyspellchecker ships dictionaries of a dozen languages: the scorer reads the English one.
    for dictionary in target.glob("spellchecker/resources/*.json.gz"):
        if dictionary.name != "en.json.gz":
            dictionary.unlink()
    # boto3/botocore come from the runtime (a dependency may have pulled them in).
    for name in ("boto3", "botocore", "s3transfer"):
        shutil.rmtree(target / name, ignore_errors=True)


def _copy_code(target: Path) -> None:
    source = ROOT / "src" / "ieltsprep"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(source, target / "ieltsprep", ignore=ignore, dirs_exist_ok=True)
    for relative in EXCLUDED_CODE:
        path = target / relative
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    shutil.copy2(ROOT / "lambda_handler.py", target / "lambda_handler.py")
    _copy_dictionaries(target / "ieltsprep" / "scoring" / PACKAGED_DIR)
    certificates = ROOT / "deploy" / "certs"
    if certificates.is_dir():
        shutil.copytree(certificates, target / "certs", dirs_exist_ok=True)


def _copy_dictionaries(folder: Path) -> None:
    """The Hunspell en-GB and en-US dictionaries (Debian packages on the build machine) into the package."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in DICTIONARIES.values():
        for ext in (".aff", ".dic"):
            source = SYSTEM_DIR / f"{name}{ext}"
            if not source.is_file():
                raise SystemExit(f"{source} is missing: install hunspell-en-gb and hunspell-en-us (make dictionaries)")
            shutil.copy2(source, folder / source.name)


def limit_bytes(function: str) -> int:
    """The zipped-size budget of a function's package."""
    return FUNCTION_LIMIT_BYTES.get(function, LIMIT_BYTES)


def _zip(directory: Path, archive: Path) -> None:
    files: Iterable[Path] = sorted(p for p in directory.rglob("*") if p.is_file())
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zipped:
        for path in files:
            info = zipfile.ZipInfo(str(path.relative_to(directory)), date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zipped.writestr(info, path.read_bytes())


def stage(function: str, directory: Path, *, native: bool = False) -> None:
    """Lay out what ``function``'s package holds in ``directory`` (for this machine's Python when ``native``)."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    _install(function, directory, native=native)
    _prune(directory)
    _copy_code(directory)


def build(function: str, out_dir: Path) -> Path:
    """Build ``<out_dir>/<function>.zip`` and return its path."""
    staging = out_dir / function
    stage(function, staging)
    archive = out_dir / f"{function}.zip"
    _zip(staging, archive)
    return archive


def main(argv: list[str] | None = None) -> int:
    """Build the requested (default: all) function packages and print their sizes."""
    parser = argparse.ArgumentParser(description="Build the Lambda packages (python3.12, arm64).")
    parser.add_argument("functions", nargs="*", help=f"any of {', '.join(FUNCTIONS)} (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "lambda")
    args = parser.parse_args(argv)
    unknown = set(args.functions) - set(FUNCTIONS)
    if unknown:
        parser.error(f"unknown functions: {', '.join(sorted(unknown))}")
    functions = args.functions or list(FUNCTIONS)
    args.out.mkdir(parents=True, exist_ok=True)
    too_big = []
    for function in functions:
        archive = build(function, args.out)
        size = archive.stat().st_size
        unpacked = sum(p.stat().st_size for p in (args.out / function).rglob("*") if p.is_file())
        print(f"{function:15s} {size / 2**20:6.2f} MB zipped  {unpacked / 2**20:6.2f} MB unpacked")
        if size > limit_bytes(function):
            too_big.append(function)
    if too_big:
        print(f"over the budget: {', '.join(too_big)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
