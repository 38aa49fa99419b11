"""Target settings, read from the environment (and a `.env` file at the project root)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from harness.contract import Contract, load_contract
from harness.errors import SettingError

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TIMEOUT = 30.0
DEFAULT_PRODUCTION_PATTERN = r"(^|\.)api\.stretch\.com$"
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"", "0", "false", "no", "off"}


# Every setting the suite reads from the environment.
SETTING_NAMES = (
    "STRETCH_BASE_URL",
    "STRETCH_TOKEN",
    "STRETCH_TOKEN_B",
    "STRETCH_TIMEOUT",
    "STRETCH_CONTRACT",
    "STRETCH_PRODUCTION_PATTERN",
    "STRETCH_ALLOW_PRODUCTION",
)


def child_environ(base: dict[str, str] | None = None, **settings: str) -> dict[str, str]:
    """The environment for a child run of the suite that has exactly these settings.

    Every other suite setting is set empty rather than left out: an empty value in the
    environment beats the `.env` file, so a developer's `.env` cannot point the child elsewhere.
    """
    env = dict(os.environ if base is None else base)
    env.update(dict.fromkeys(SETTING_NAMES, ""))
    env.update(settings)
    return env


@dataclass(frozen=True)
class Settings:
    """Where the suite points and as whom. Tokens never appear in the repr."""

    base_url: str | None  # None: start the embedded reference server
    token_a: str | None = field(repr=False)
    token_b: str | None = field(repr=False)
    timeout: float
    production_pattern: str
    allow_production: bool
    contract: Contract = field(repr=False)

    @property
    def embedded(self) -> bool:
        return self.base_url is None

    @property
    def host(self) -> str:
        if not self.base_url:
            return "127.0.0.1"
        # "api.stretch.com." (a fully qualified name) is the same host: the guard must see it.
        return (urlsplit(self.base_url).hostname or "").rstrip(".")

    @property
    def is_production(self) -> bool:
        return bool(re.search(self.production_pattern, self.host))


def _load_dotenv() -> None:
    # A value already in the environment wins over the file, so CI secrets are never shadowed.
    env_file = ROOT / ".env"
    if env_file.is_file():
        from dotenv import load_dotenv

        load_dotenv(env_file, override=False)


def _base_url(raw: str) -> str | None:
    raw = raw.strip()
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingError(
            f"STRETCH_BASE_URL = {raw!r} is not an http(s) URL; expected the API root, "
            "e.g. https://staging.example.com/api/v1"
        )
    # A bare "?" or "#" leaves query and fragment empty, yet would still end up in every URL.
    if parts.query or parts.fragment or "?" in raw or "#" in raw:
        raise SettingError(f"STRETCH_BASE_URL = {raw!r} must not carry a query or fragment")
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise SettingError(f"STRETCH_BASE_URL = {raw!r} has a malformed port") from None
    return raw.rstrip("/")


def _token(name: str, raw: str | None) -> str | None:
    if raw is None or raw == "":
        return None
    if raw != raw.strip() or any(c.isspace() for c in raw) or not raw.isprintable():
        # Never echo the value: it is a secret.
        raise SettingError(f"{name} holds whitespace or control characters; expected a bare token")
    return raw


def _timeout(raw: str | None) -> float:
    if raw is None or raw.strip() == "":
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        raise SettingError(f"STRETCH_TIMEOUT = {raw!r} is not a number of seconds") from None
    if not 0 < value <= 3600:
        raise SettingError(f"STRETCH_TIMEOUT = {raw!r}; expected seconds above 0, at most 3600")
    return value


def _flag(name: str, raw: str | None) -> bool:
    word = (raw or "").strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise SettingError(f"{name} = {raw!r}; expected 1/0, true/false, yes/no")


def _pattern(raw: str | None) -> str:
    if raw is None or raw.strip() == "":
        return DEFAULT_PRODUCTION_PATTERN
    try:
        re.compile(raw)
    except re.error as exc:
        raise SettingError(f"STRETCH_PRODUCTION_PATTERN = {raw!r} is not a regex: {exc}") from None
    return raw


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read every setting; the first wrong one raises SettingError naming it."""
    if environ is None:
        _load_dotenv()
        environ = dict(os.environ)
    base_url = _base_url(environ.get("STRETCH_BASE_URL", ""))
    token_a = _token("STRETCH_TOKEN", environ.get("STRETCH_TOKEN"))
    token_b = _token("STRETCH_TOKEN_B", environ.get("STRETCH_TOKEN_B"))
    if base_url and not token_a:
        raise SettingError("STRETCH_TOKEN is required when STRETCH_BASE_URL is set")
    if token_a and token_a == token_b:
        raise SettingError("STRETCH_TOKEN_B is the same token as STRETCH_TOKEN; expected user B's")
    contract_path = environ.get("STRETCH_CONTRACT", "").strip()
    return Settings(
        base_url=base_url,
        token_a=token_a,
        token_b=token_b,
        timeout=_timeout(environ.get("STRETCH_TIMEOUT")),
        production_pattern=_pattern(environ.get("STRETCH_PRODUCTION_PATTERN")),
        allow_production=_flag("STRETCH_ALLOW_PRODUCTION", environ.get("STRETCH_ALLOW_PRODUCTION")),
        contract=load_contract(Path(contract_path) if contract_path else None),
    )
