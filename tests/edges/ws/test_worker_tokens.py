"""Internal worker tokens: bound to one assessment, short-lived, signed with a secret kept out of reach."""

from __future__ import annotations

import stat

import pytest

from ieltsprep.edges.ws import tokens
from ieltsprep.errors import ServiceUnavailable, Unauthorized
from ieltsprep.settings import Settings


def test_a_worker_token_verifies_to_its_assessment_and_user(settings: Settings) -> None:
    token = tokens.issue_worker_token(settings, assessment_id="a1", user_id="u1")
    claims = tokens.verify_worker_token(settings, token)
    assert (claims.assessment_id, claims.user_id) == ("a1", "u1")
    assert claims.expires_at - tokens.now_epoch() == tokens.WORKER_TOKEN_TTL_SECONDS
    assert tokens.looks_like_worker_token(token)


def test_session_tokens_do_not_look_like_worker_tokens() -> None:
    assert not tokens.looks_like_worker_token("3q2-7wXyZ_opaque-session-token")


def test_an_expired_worker_token_is_refused(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    issued_at = tokens.now_epoch() - tokens.WORKER_TOKEN_TTL_SECONDS - 5
    monkeypatch.setattr(tokens, "now_epoch", lambda: issued_at)
    token = tokens.issue_worker_token(settings, assessment_id="a1", user_id="u1")
    monkeypatch.undo()
    with pytest.raises(Unauthorized):
        tokens.verify_worker_token(settings, token)


def test_a_tampered_worker_token_is_refused(settings: Settings) -> None:
    token = tokens.issue_worker_token(settings, assessment_id="a1", user_id="u1")
    header, _payload, signature = token.split(".")
    other = tokens.issue_worker_token(settings, assessment_id="a2", user_id="u1").split(".")[1]
    with pytest.raises(Unauthorized):
        tokens.verify_worker_token(settings, f"{header}.{other}.{signature}")


def test_a_token_signed_with_another_secret_is_refused(settings: Settings) -> None:
    foreign = settings.model_copy(update={"internal_token_secret": "x" * 48})
    token = tokens.issue_worker_token(foreign, assessment_id="a1", user_id="u1")
    with pytest.raises(Unauthorized):
        tokens.verify_worker_token(settings, token)


def test_the_local_secret_is_generated_once_and_readable_by_its_owner_only(settings: Settings) -> None:
    first = tokens.secret(settings)
    path = settings.data_dir / tokens.SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert tokens.secret(settings) == first
    assert len(first) >= 48


def test_outside_the_local_stage_a_missing_secret_is_a_configuration_error() -> None:
    deployed = Settings(stage="dev", store="dynamodb", internal_token_secret=None)
    with pytest.raises(ServiceUnavailable):
        tokens.issue_worker_token(deployed, assessment_id="a1", user_id="u1")


def test_on_aws_the_secret_is_read_once_from_its_ssm_parameter(monkeypatch: pytest.MonkeyPatch) -> None:
    from ieltsprep.adapters.stores import secrets

    reads: list[str] = []

    def read_parameter(settings: Settings, name: str) -> str:
        reads.append(name)
        return "s" * 48

    monkeypatch.setattr(secrets, "read_parameter", read_parameter)
    monkeypatch.setattr(tokens, "_parameter_cache", {})
    deployed = Settings(stage="prod", store="dynamodb", internal_token_secret_parameter="/ieltsprep/prod/ws-secret")
    token = tokens.issue_worker_token(deployed, assessment_id="a1", user_id="u1")
    assert tokens.verify_worker_token(deployed, token).assessment_id == "a1"
    assert reads == ["/ieltsprep/prod/ws-secret"]
