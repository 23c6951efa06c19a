"""Model location: Whisper is assembled from its two packages once, verified by hash, published atomically."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ieltsprep.adapters.speech import models
from ieltsprep.adapters.speech.models import ModelUnavailable, piper_voice_path, whisper_model_dir


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def test_whisper_is_joined_from_both_parts_with_its_side_files_and_reused(tmp_path: Path) -> None:
    target = whisper_model_dir(tmp_path)
    assert sorted(p.name for p in target.iterdir()) == [
        "config.json",
        "model.bin",
        "sha256.ok",
        "tokenizer.json",
        "vocabulary.json",
    ]
    assert sha256(target / "model.bin") == models.WHISPER_MODEL_SHA256
    stamp = (target / "model.bin").stat().st_mtime_ns
    assert whisper_model_dir(tmp_path) == target
    assert (target / "model.bin").stat().st_mtime_ns == stamp  # not rebuilt
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no staging leftovers


def test_a_hash_mismatch_refuses_the_model_and_leaves_nothing_behind(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="sha256"):
        whisper_model_dir(tmp_path, expected_sha256="0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_a_broken_earlier_copy_is_replaced(tmp_path: Path) -> None:
    broken = tmp_path / models.WHISPER_NAME
    broken.mkdir()
    (broken / "model.bin").write_bytes(b"half a model")
    target = whisper_model_dir(tmp_path)
    assert sha256(target / "model.bin") == models.WHISPER_MODEL_SHA256


def test_a_missing_model_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(models, "_WHISPER_PARTS", (("no_such_model_package", "model.bin.part1"),))
    with pytest.raises(ModelUnavailable, match="not installed"):
        whisper_model_dir(tmp_path)


def test_the_piper_voice_and_its_config_are_found_in_the_package() -> None:
    path = piper_voice_path()
    assert path.suffix == ".onnx" and path.with_suffix(".onnx.json").is_file()
