"""The speaking test: question bank and script, session controller, transcripts and scoring.

Candidate audio travels through ``@connections`` posts (relay to the worker, worker to the candidate). botocore logs
whole request and response bodies at DEBUG, which would put a candidate's voice into the logs whenever someone turns
debug logging on; every process that handles speaking imports this package, so the wire loggers are capped here.
"""

from __future__ import annotations

import logging

# botocore.endpoint logs request bodies and botocore.parsers response bodies at DEBUG.
_WIRE_LOGGERS = ("botocore.endpoint", "botocore.parsers")


def keep_audio_out_of_logs() -> None:
    """Never let botocore log message bodies (they carry audio), whatever the configured log level."""
    for name in _WIRE_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO)


keep_audio_out_of_logs()
