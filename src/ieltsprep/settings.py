"""One typed settings object, read from the environment once per process.

Nothing else in the package reads ``os.environ``: code receives a ``Settings`` (usually through the container).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Stage = Literal["local", "dev", "prod"]
MODULES: tuple[str, ...] = ("academic_writing", "general_writing", "academic_speaking", "general_speaking")
REGIONS: tuple[str, ...] = ("us-east-1", "eu-west-1", "ap-southeast-1")


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Every knob of the platform. Environment variable names are given by the aliases."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, frozen=True, env_ignore_empty=True)

    # --- where and what -------------------------------------------------------------------------------------
    stage: Stage = Field("local", validation_alias=_env("IELTSPREP_STAGE", "STAGE"))
    region: str = Field("us-east-1", validation_alias=_env("AWS_REGION", "AWS_DEFAULT_REGION"))
    data_dir: Path = Field(Path("var"), validation_alias=_env("IELTSPREP_DATA_DIR"))
    log_level: str = Field("INFO", validation_alias=_env("IELTSPREP_LOG_LEVEL", "POWERTOOLS_LOG_LEVEL"))

    # --- storage --------------------------------------------------------------------------------------------
    store: Literal["sqlite", "dynamodb"] = Field("sqlite", validation_alias=_env("IELTSPREP_STORE"))
    users_table: str = Field("ielts-genai-prep-users-local", validation_alias=_env("DYNAMODB_USERS_TABLE"))
    assessments_table: str = Field(
        "ielts-genai-prep-assessments-local", validation_alias=_env("DYNAMODB_ASSESSMENTS_TABLE")
    )
    sessions_table: str = Field("ielts-genai-prep-sessions-local", validation_alias=_env("DYNAMODB_SESSIONS_TABLE"))
    ledger_table: str = Field("ielts-genai-prep-ledger-local", validation_alias=_env("DYNAMODB_LEDGER_TABLE"))
    content_table: str = Field("ielts-genai-prep-content-local", validation_alias=_env("DYNAMODB_CONTENT_TABLE"))
    dynamodb_endpoint_url: str | None = Field(None, validation_alias=_env("DYNAMODB_ENDPOINT_URL"))

    # --- HTTP edge ------------------------------------------------------------------------------------------
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://127.0.0.1:8000", "http://localhost:8000", "capacitor://localhost"],
        validation_alias=_env("IELTSPREP_CORS_ORIGINS"),
    )
    max_body_bytes: int = Field(256 * 1024, validation_alias=_env("IELTSPREP_MAX_BODY_BYTES"))
    session_ttl_seconds: int = Field(30 * 24 * 3600, validation_alias=_env("IELTSPREP_SESSION_TTL_SECONDS"))
    cookie_secure: bool = Field(True, validation_alias=_env("IELTSPREP_COOKIE_SECURE"))
    login_attempts_per_window: int = Field(10, validation_alias=_env("IELTSPREP_LOGIN_ATTEMPTS"))
    # Per source IP, across emails: higher, because a school or office shares one address.
    login_ip_attempts_per_window: int = Field(60, validation_alias=_env("IELTSPREP_LOGIN_IP_ATTEMPTS"))
    register_attempts_per_window: int = Field(20, validation_alias=_env("IELTSPREP_REGISTER_ATTEMPTS"))
    rate_limit_window_seconds: int = Field(300, validation_alias=_env("IELTSPREP_RATE_LIMIT_WINDOW"))
    password_time_cost: int = Field(2, ge=1, validation_alias=_env("IELTSPREP_PASSWORD_TIME_COST"))
    password_memory_kib: int = Field(19 * 1024, ge=8 * 1024, validation_alias=_env("IELTSPREP_PASSWORD_MEMORY_KIB"))
    # None = on everywhere but the local stage (X-Ray and CloudWatch EMF exist only on AWS).
    tracing_enabled: bool | None = Field(None, validation_alias=_env("IELTSPREP_TRACING"))
    metrics_enabled: bool | None = Field(None, validation_alias=_env("IELTSPREP_METRICS"))

    # --- engines --------------------------------------------------------------------------------------------
    writing_engine: Literal["local", "bedrock"] = Field("local", validation_alias=_env("IELTSPREP_WRITING_ENGINE"))
    speech_engine: Literal["local", "nova-sonic"] = Field("local", validation_alias=_env("IELTSPREP_SPEECH_ENGINE"))
    speaking_scorer: Literal["local", "bedrock"] = Field("local", validation_alias=_env("IELTSPREP_SPEAKING_SCORER"))
    bedrock_writing_model_id: str = Field("amazon.nova-lite-v1:0", validation_alias=_env("IELTSPREP_BEDROCK_MODEL_ID"))
    # The speaking scorer reads a whole test's transcript: its own model, chosen apart from the writing one.
    bedrock_speaking_model_id: str = Field(
        "amazon.nova-lite-v1:0", validation_alias=_env("IELTSPREP_BEDROCK_SPEAKING_MODEL_ID")
    )
    bedrock_region: str | None = Field(None, validation_alias=_env("IELTSPREP_BEDROCK_REGION"))
    nova_sonic_model_id: str = Field("amazon.nova-2-sonic-v1:0", validation_alias=_env("IELTSPREP_NOVA_SONIC_MODEL_ID"))
    nova_sonic_voice: str = Field("amy", validation_alias=_env("IELTSPREP_NOVA_SONIC_VOICE"))
    nova_sonic_region: str = Field("us-east-1", validation_alias=_env("IELTSPREP_NOVA_SONIC_REGION"))
    speaking_time_scale: float = Field(1.0, gt=0, validation_alias=_env("IELTSPREP_SPEAKING_TIME_SCALE"))
    # The writing paper's clock (60 minutes) multiplied by this; local stage only, for tests.
    writing_time_scale: float = Field(1.0, gt=0, validation_alias=_env("IELTSPREP_WRITING_TIME_SCALE"))
    model_cache_dir: Path | None = Field(None, validation_alias=_env("IELTSPREP_MODEL_CACHE_DIR"))

    # --- turn-taking of the local speech engine (docs/ARCHITECTURE.md, "Turn-taking", has the figures) --------
    # "model": Silero VAD, Smart Turn and the last words read by Whisper; "acoustic": Silero VAD and Smart Turn;
    # "energy": the energy endpointer (also the fallback when the models are absent).
    turn_detector: Literal["model", "acoustic", "energy"] = Field(
        "model", validation_alias=_env("IELTSPREP_TURN_DETECTOR")
    )
    turn_speech_threshold: float = Field(0.5, gt=0, lt=1, validation_alias=_env("IELTSPREP_TURN_SPEECH_THRESHOLD"))
    turn_decision_ms: int = Field(192, ge=32, validation_alias=_env("IELTSPREP_TURN_DECISION_MS"))
    turn_judge_ms: int = Field(128, ge=32, validation_alias=_env("IELTSPREP_TURN_JUDGE_MS"))
    turn_read_ms: int = Field(96, ge=32, validation_alias=_env("IELTSPREP_TURN_READ_MS"))
    turn_complete_threshold: float = Field(0.9, ge=0, le=1, validation_alias=_env("IELTSPREP_TURN_COMPLETE_THRESHOLD"))
    turn_veto_threshold: float = Field(0.05, ge=0, le=1, validation_alias=_env("IELTSPREP_TURN_VETO_THRESHOLD"))
    # A last word Whisper gave less than this (in two windows) holds the turn; 0 turns the rule off.
    turn_unsure_word: float = Field(0.5, ge=0, le=1, validation_alias=_env("IELTSPREP_TURN_UNSURE_WORD"))
    turn_ceiling_part1_ms: int = Field(3500, ge=200, validation_alias=_env("IELTSPREP_TURN_CEILING_PART1_MS"))
    turn_ceiling_part2_ms: int = Field(5000, ge=200, validation_alias=_env("IELTSPREP_TURN_CEILING_PART2_MS"))
    turn_ceiling_part3_ms: int = Field(4000, ge=200, validation_alias=_env("IELTSPREP_TURN_CEILING_PART3_MS"))

    # --- asynchronous work and the WebSocket API -----------------------------------------------------------
    # On AWS: the function names to invoke asynchronously, and the API Gateway management endpoint.
    scoring_function_name: str | None = Field(None, validation_alias=_env("IELTSPREP_JOBS_FUNCTION"))
    speaking_worker_function_name: str | None = Field(None, validation_alias=_env("IELTSPREP_SPEAKING_WORKER_FUNCTION"))
    ws_management_endpoint: str | None = Field(None, validation_alias=_env("IELTSPREP_WS_MANAGEMENT_ENDPOINT"))
    ws_url: str | None = Field(None, validation_alias=_env("IELTSPREP_WS_URL"))
    internal_token_secret: str | None = Field(None, validation_alias=_env("IELTSPREP_INTERNAL_TOKEN_SECRET"))
    # On AWS: the SSM SecureString holding that secret (read once per process), so it never sits in the environment.
    internal_token_secret_parameter: str | None = Field(
        None, validation_alias=_env("IELTSPREP_INTERNAL_TOKEN_SECRET_PARAMETER")
    )

    # --- purchases ------------------------------------------------------------------------------------------
    test_store_enabled: bool = Field(False, validation_alias=_env("IELTSPREP_TEST_STORE"))
    apple_bundle_id: str = Field("com.ieltsgenaiprep.app", validation_alias=_env("APPLE_BUNDLE_ID"))
    apple_app_id: int | None = Field(None, validation_alias=_env("APPLE_APP_ID"))
    apple_root_certificates: Annotated[list[Path], NoDecode] = Field(
        default_factory=list, validation_alias=_env("APPLE_ROOT_CERTIFICATES")
    )
    apple_environments: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["PRODUCTION", "SANDBOX"], validation_alias=_env("APPLE_ENVIRONMENTS")
    )
    apple_key_id: str | None = Field(None, validation_alias=_env("APPLE_KEY_ID"))
    apple_issuer_id: str | None = Field(None, validation_alias=_env("APPLE_ISSUER_ID"))
    apple_private_key_parameter: str | None = Field(None, validation_alias=_env("APPLE_PRIVATE_KEY_PARAMETER"))
    google_package_name: str = Field("com.ieltsgenaiprep.app", validation_alias=_env("GOOGLE_PACKAGE_NAME"))
    google_service_account_parameter: str | None = Field(
        None, validation_alias=_env("GOOGLE_SERVICE_ACCOUNT_PARAMETER")
    )
    google_play_api_root: str | None = Field(None, validation_alias=_env("GOOGLE_PLAY_API_ROOT"))
    google_pubsub_audience: str | None = Field(None, validation_alias=_env("GOOGLE_PUBSUB_AUDIENCE"))
    google_pubsub_service_account: str | None = Field(None, validation_alias=_env("GOOGLE_PUBSUB_SERVICE_ACCOUNT"))

    # --- web ------------------------------------------------------------------------------------------------
    static_dir: Path | None = Field(None, validation_alias=_env("IELTSPREP_STATIC_DIR"))

    @model_validator(mode="before")
    @classmethod
    def _split_lists(cls, data: object) -> object:
        if isinstance(data, dict):
            for key in ("cors_origins", "apple_root_certificates", "apple_environments"):
                for alias in (key, *cls._aliases(key)):
                    value = data.get(alias)
                    if isinstance(value, str):
                        data[alias] = [part.strip() for part in value.split(",") if part.strip()]
        return data

    @classmethod
    def _aliases(cls, field: str) -> tuple[str, ...]:
        alias = cls.model_fields[field].validation_alias
        return tuple(str(a) for a in alias.choices) if isinstance(alias, AliasChoices) else ()

    @model_validator(mode="after")
    def _refuse_local_features_outside_local(self) -> Settings:
        if self.stage == "local":
            return self
        problems = []
        if self.test_store_enabled:
            problems.append("the local test store (IELTSPREP_TEST_STORE)")
        if self.speaking_time_scale != 1.0:
            problems.append("a speaking time scale other than 1.0 (IELTSPREP_SPEAKING_TIME_SCALE)")
        if self.writing_time_scale != 1.0:
            problems.append("a writing time scale other than 1.0 (IELTSPREP_WRITING_TIME_SCALE)")
        if self.store == "sqlite":
            problems.append("the SQLite store (IELTSPREP_STORE=sqlite)")
        if self.dynamodb_endpoint_url:
            problems.append("a DynamoDB endpoint override (DYNAMODB_ENDPOINT_URL)")
        if self.google_play_api_root:
            problems.append("a Google Play API override (GOOGLE_PLAY_API_ROOT)")
        if not self.cookie_secure:
            problems.append("insecure cookies (IELTSPREP_COOKIE_SECURE=false)")
        if "SANDBOX" not in self.apple_environments and "PRODUCTION" not in self.apple_environments:
            problems.append("no Apple environment")
        if set(self.apple_environments) - {"PRODUCTION", "SANDBOX"}:
            problems.append("Apple environments other than PRODUCTION and SANDBOX")
        if problems:
            raise ValueError(f"stage {self.stage!r} refuses local-only features: " + "; ".join(problems))
        return self

    @property
    def is_local(self) -> bool:
        """True on a laptop or in tests; never on AWS."""
        return self.stage == "local"

    @property
    def sqlite_path(self) -> Path:
        """The one SQLite file of the embedded store."""
        return self.data_dir / "ieltsprep.sqlite3"

    def table_name(self, table: str) -> str:
        """Physical table name of a logical table (users, assessments, sessions, ledger, content)."""
        return str(getattr(self, f"{table}_table"))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings()
