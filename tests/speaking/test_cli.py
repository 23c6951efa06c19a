"""``ieltsprep speak``: reading answer WAVs, refusing bad input, saving what a run produced."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest

from ieltsprep.cli import main
from ieltsprep.speaking.cli import SpeakError, SpeakingRun, TurnTiming, read_wav_16k, save_run, write_wav


def _wav(path: Path, rate: int, channels: int = 1, seconds: float = 0.5, width: int = 2) -> None:
    samples = (np.sin(np.arange(int(rate * seconds)) / 5) * 8000).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(np.repeat(samples, channels).tobytes() if width == 2 else bytes(len(samples) * channels))


def test_answers_are_converted_to_16_khz_mono(tmp_path: Path) -> None:
    _wav(tmp_path / "a.wav", 22050, channels=2, seconds=0.5)
    _wav(tmp_path / "b.wav", 16000, seconds=0.25)
    assert len(read_wav_16k(tmp_path / "a.wav")) == pytest.approx(16000 * 0.5 * 2, abs=8)
    assert len(read_wav_16k(tmp_path / "b.wav")) == 16000 * 0.25 * 2


def test_8_bit_wav_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    _wav(tmp_path / "a.wav", 16000, width=1)
    with pytest.raises(SpeakError, match="16-bit"):
        read_wav_16k(tmp_path / "a.wav")


def test_command_refuses_an_empty_directory_and_missing_credentials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["speak", "--wav-dir", str(tmp_path)]) == 2
    assert "no .wav files" in capsys.readouterr().out
    _wav(tmp_path / "a.wav", 16000)
    assert main(["speak", "--wav-dir", str(tmp_path)]) == 2
    assert "--email and --password" in capsys.readouterr().out
    assert main(["speak", "--wav-dir", str(tmp_path), "--token", "t", "--chunk-ms", "5000"]) == 2
    assert "--chunk-ms" in capsys.readouterr().out


def test_run_is_saved_as_wavs_transcript_result_and_summary(tmp_path: Path) -> None:
    run = SpeakingRun(
        "a1",
        transcript=[{"role": "examiner", "text": "Good morning."}],
        examiner_lines=[b"\x01\x00" * 2400, b"\x02\x00" * 4800],
        answers_sent=1,
        result={"status": "scored"},
        timings=[TurnTiming(10.0, 10.4)],
        completed=True,
    )
    save_run(run, tmp_path / "out")
    out = tmp_path / "out"
    with wave.open(str(out / "maya_002.wav")) as wav:
        assert (wav.getframerate(), wav.getnframes()) == (24000, 4800)
    assert json.loads((out / "transcript.json").read_text())[0]["text"] == "Good morning."
    assert json.loads((out / "result.json").read_text()) == {"status": "scored"}
    summary = json.loads((out / "run.json").read_text())
    assert summary["answer_to_examiner_audio_seconds"] == [0.4]
    assert summary["answers_sent"] == 1


def test_write_wav_round_trips(tmp_path: Path) -> None:
    write_wav(tmp_path / "x.wav", b"\x05\x00" * 1600, 16000)
    assert read_wav_16k(tmp_path / "x.wav") == b"\x05\x00" * 1600
