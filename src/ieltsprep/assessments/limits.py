"""Limits of the assessments domain that the HTTP edge needs without importing the domain models."""

from __future__ import annotations

MAX_ANSWER_CHARS = 20_000
