"""Each Lambda function's code runs without the local-only libraries its package does not carry.

The packages (deploy/requirements/) hold no numpy, spaCy or speech models (docs/DEPLOY.md); the local stage has them
all, so an import of one on a Lambda code path passes every other test and fails only on AWS. Each check runs in a
fresh interpreter whose import system refuses those libraries.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from ieltsprep.deploy.build import FUNCTIONS, ROOT
from ieltsprep.speaking.timing import rms
from ieltsprep.stats import percentile

LOCAL_ONLY = ("numpy", "spacy", "ctranslate2", "onnxruntime", "faster_whisper", "piper", "lemminflect", "wordfreq")
BLOCKER = f"""
import importlib.abc, sys
class LocalOnly(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {LOCAL_ONLY!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (not in the Lambda package)")
        return None
sys.meta_path.insert(0, LocalOnly())
"""
EDGES = {
    "http": ["ieltsprep.edges.http.app"],
    "ws": ["ieltsprep.edges.ws.handler"],
    "speakingWorker": [
        "ieltsprep.edges.worker",
        "ieltsprep.adapters.speech.nova_sonic",
        "ieltsprep.speaking.scoring",
        "ieltsprep.speaking.scoring_bedrock",
    ],
    "jobs": ["ieltsprep.edges.jobs", "ieltsprep.speaking.scoring", "ieltsprep.scoring.bedrock"],
}


def run_without_local_only(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCKER + textwrap.dedent(code)],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_no_package_carries_a_local_only_library() -> None:
    """The premise of the checks below: were one added to a package, its block here would be wrong."""
    for requirements in Path(ROOT / "deploy" / "requirements").glob("*.txt"):
        names = {
            line.split("=")[0].split(">")[0].split("[")[0].strip().lower()
            for line in requirements.read_text().splitlines()
        }
        assert not names & {name.replace("_", "-") for name in LOCAL_ONLY}, requirements.name


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_functions_code_imports_without_local_only_libraries(function: str) -> None:
    imports = "\n".join(f"import {module}" for module in EDGES[function])
    done = run_without_local_only(imports + "\nprint('imported')")
    assert done.returncode == 0, done.stderr
    assert "imported" in done.stdout


def test_the_worker_measures_voice_without_numpy() -> None:
    """The controller's voice check and the turn timeline run on the standard library alone; relevance, which needs
    the encoder, is left unjudged rather than failing."""
    done = run_without_local_only(
        """
        import math, struct
        from ieltsprep.speaking.relevance import installed_similarity
        from ieltsprep.speaking.timing import AudioTimeline

        tone = [int(8000 * math.sin(2 * math.pi * 220 * i / 16000)) for i in range(16000)]
        pcm = struct.pack("<16000h", *([0] * 16000)) + struct.pack("<16000h", *tone) + struct.pack("<16000h", *([0] * 16000))
        timeline = AudioTimeline()
        timeline.feed(pcm)
        print(timeline.voiced(0, 3000), installed_similarity())
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[(1000, 2000)] None"


def test_percentile_and_rms_agree_with_numpy() -> None:
    rng = np.random.default_rng(7)
    values = rng.normal(200, 80, 501).tolist()
    for q in (0, 10, 50, 95, 100):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
    samples = rng.integers(-32768, 32767, 320).tolist()
    assert rms(samples) == pytest.approx(float(np.sqrt(np.mean(np.square(np.asarray(samples, dtype=np.float64))))))
    assert rms([]) == 0.0
