"""Settings come from the environment; each wrong one is named, and no message shows a token.

Every check here is on strings: no test sends traffic anywhere.
"""

from __future__ import annotations

import pytest

from harness.config import DEFAULT_PRODUCTION_PATTERN, load_settings
from harness.contract import DEFAULT_PATH
from harness.errors import SettingError

TOKEN_A = "tokA-5f1c9e0b7d2a4c68"
TOKEN_B = "tokB-93ad04e6b18f7c25"
LOCAL = "http://127.0.0.1:8000/api/v1"
PRODUCTION = "https://api.stretch.com/api/v1"


def target(**overrides: str) -> dict[str, str]:
    """An environment naming a local target with both users' tokens, plus `overrides`."""
    return {"STRETCH_BASE_URL": LOCAL, "STRETCH_TOKEN": TOKEN_A, "STRETCH_TOKEN_B": TOKEN_B,
            **overrides}  # fmt: skip


def setting_error(environ: dict[str, str]) -> str:
    with pytest.raises(SettingError) as caught:
        load_settings(environ=environ)
    message = str(caught.value)
    for name in ("STRETCH_TOKEN", "STRETCH_TOKEN_B"):
        secret = environ.get(name)
        assert not secret or secret.strip() not in message, (
            f"the message shows {name}'s value: {message!r}"
        )
    return message


# Defaults.


@pytest.mark.parametrize("environ", [{}, {"STRETCH_BASE_URL": ""}, {"STRETCH_BASE_URL": "  "}])
def test_without_a_base_url_the_embedded_server_is_the_target(environ):
    settings = load_settings(environ=environ)

    assert settings.base_url is None
    assert settings.embedded is True
    assert (settings.token_a, settings.token_b) == (None, None)
    assert settings.timeout == 30.0
    assert settings.production_pattern == DEFAULT_PRODUCTION_PATTERN
    assert settings.allow_production is False
    assert settings.contract.source == DEFAULT_PATH
    assert settings.host == "127.0.0.1"
    assert settings.is_production is False


def test_a_remote_target_keeps_its_url_tokens_and_timeout():
    settings = load_settings(environ=target(STRETCH_TIMEOUT="2.5"))

    assert settings.base_url == LOCAL
    assert settings.embedded is False
    assert (settings.token_a, settings.token_b) == (TOKEN_A, TOKEN_B)
    assert settings.timeout == 2.5
    assert settings.host == "127.0.0.1"


@pytest.mark.parametrize(
    "raw", [LOCAL + "/", LOCAL + "///", " " + LOCAL + "/ "], ids=["one", "three", "spaces"]
)
def test_trailing_slashes_and_spaces_are_stripped_from_the_base_url(raw):
    assert load_settings(environ=target(STRETCH_BASE_URL=raw)).base_url == LOCAL


def test_token_b_is_optional():
    environ = target()
    del environ["STRETCH_TOKEN_B"]

    assert load_settings(environ=environ).token_b is None


@pytest.mark.parametrize(("raw", "expected"), [("3600", 3600.0), ("0.5", 0.5), (" 7 ", 7.0)])
def test_timeout_within_range_is_read_as_seconds(raw, expected):
    assert load_settings(environ=target(STRETCH_TIMEOUT=raw)).timeout == expected


@pytest.mark.parametrize("word", ["1", "true", "YES", "On", " yes "])
def test_allow_production_true_words(word):
    assert load_settings(environ={"STRETCH_ALLOW_PRODUCTION": word}).allow_production is True


@pytest.mark.parametrize("word", ["", "0", "false", "No", "OFF"])
def test_allow_production_false_words(word):
    assert load_settings(environ={"STRETCH_ALLOW_PRODUCTION": word}).allow_production is False


def test_contract_path_setting_is_followed(tmp_path):
    path = tmp_path / "narrowed.toml"
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    path.write_text(text.replace('megabyte = "auto"', 'megabyte = "binary"'), encoding="utf-8")

    settings = load_settings(environ={"STRETCH_CONTRACT": str(path)})

    assert (settings.contract.source, settings.contract.megabyte) == (path, "binary")


# Each malformed setting: the exact message, and never a token.

BASE_URL_HINT = (
    "is not an http(s) URL; expected the API root, e.g. https://staging.example.com/api/v1"
)


@pytest.mark.parametrize(
    "raw",
    ["ftp://127.0.0.1/api/v1", "127.0.0.1:8000/api/v1", "http:///api/v1", "api/v1", "file:///x"],
)
def test_base_url_that_is_not_http_is_named(raw):
    message = setting_error(target(STRETCH_BASE_URL=raw))

    assert message == f"STRETCH_BASE_URL = {raw!r} {BASE_URL_HINT}"


@pytest.mark.parametrize("raw", [LOCAL + "?user=a", LOCAL + "#top", LOCAL + "/?"])
def test_base_url_with_query_or_fragment_is_named(raw):
    message = setting_error(target(STRETCH_BASE_URL=raw))

    assert message == f"STRETCH_BASE_URL = {raw!r} must not carry a query or fragment"


@pytest.mark.parametrize(
    "raw", ["http://127.0.0.1:abc/api/v1", "http://127.0.0.1:70000/api/v1", "http://127.0.0.1:-1/"]
)
def test_base_url_with_bad_port_is_named(raw):
    message = setting_error(target(STRETCH_BASE_URL=raw))

    assert message == f"STRETCH_BASE_URL = {raw!r} has a malformed port"


def test_timeout_that_is_not_a_number_is_named():
    message = setting_error(target(STRETCH_TIMEOUT="abc"))

    assert message == "STRETCH_TIMEOUT = 'abc' is not a number of seconds"


@pytest.mark.parametrize("raw", ["0", "-1", "4000", "3600.5", "nan", "inf"])
def test_timeout_out_of_range_is_named(raw):
    message = setting_error(target(STRETCH_TIMEOUT=raw))

    assert message == f"STRETCH_TIMEOUT = {raw!r}; expected seconds above 0, at most 3600"


BAD_TOKENS = {
    "inner space": "tok-secret value",
    "leading space": " tok-secret-value",
    "trailing newline": "tok-secret-value\n",
    "tab": "tok-secret\tvalue",
    "control character": "tok-secret\x07value",
}


@pytest.mark.parametrize("name", ["STRETCH_TOKEN", "STRETCH_TOKEN_B"])
@pytest.mark.parametrize("bad", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
def test_token_with_whitespace_is_named_without_its_value(name, bad):
    message = setting_error(target(**{name: bad}))

    assert message == f"{name} holds whitespace or control characters; expected a bare token"
    assert "secret" not in message


def test_missing_token_with_a_base_url_is_named():
    environ = target()
    del environ["STRETCH_TOKEN"]

    assert setting_error(environ) == "STRETCH_TOKEN is required when STRETCH_BASE_URL is set"


def test_empty_token_with_a_base_url_counts_as_missing():
    message = setting_error(target(STRETCH_TOKEN=""))

    assert message == "STRETCH_TOKEN is required when STRETCH_BASE_URL is set"


def test_token_b_equal_to_token_a_is_named_without_either_value():
    message = setting_error(target(STRETCH_TOKEN_B=TOKEN_A))

    assert message == "STRETCH_TOKEN_B is the same token as STRETCH_TOKEN; expected user B's"


@pytest.mark.parametrize("raw", ["maybe", "2", "y e s"])
def test_allow_production_word_not_understood_is_named(raw):
    message = setting_error(target(STRETCH_ALLOW_PRODUCTION=raw))

    assert message == f"STRETCH_ALLOW_PRODUCTION = {raw!r}; expected 1/0, true/false, yes/no"


@pytest.mark.parametrize("raw", ["(", "api[.stretch", "*"])
def test_production_pattern_that_is_not_a_regex_is_named(raw):
    message = setting_error(target(STRETCH_PRODUCTION_PATTERN=raw))

    assert message.startswith(f"STRETCH_PRODUCTION_PATTERN = {raw!r} is not a regex: "), message


def test_contract_setting_pointing_nowhere_is_named(tmp_path):
    path = tmp_path / "missing" / "contract.toml"

    message = setting_error(target(STRETCH_CONTRACT=str(path)))

    assert message == f"STRETCH_CONTRACT: no contract file at {path}"


# Tokens stay out of the representation.


def test_repr_and_str_of_settings_never_show_a_token():
    settings = load_settings(environ=target())

    assert (settings.token_a, settings.token_b) == (TOKEN_A, TOKEN_B)
    for text in (repr(settings), str(settings)):
        assert TOKEN_A not in text and TOKEN_B not in text, text
        assert LOCAL in text, text


# The production guard: pure string checks on the configured URL.


@pytest.mark.parametrize(
    "url",
    [
        PRODUCTION,
        "https://api.stretch.com",
        "https://API.Stretch.COM/api/v1",
        "https://api.stretch.com:443/api/v1",
        "https://eu.api.stretch.com/api/v1",
        "https://api.stretch.com./api/v1",
    ],
)
def test_production_hosts_are_recognised(url):
    settings = load_settings(environ=target(STRETCH_BASE_URL=url))

    assert settings.is_production is True, f"host {settings.host!r} of {url}"


@pytest.mark.parametrize(
    "url",
    [
        LOCAL,
        "https://staging.example.com/api/v1",
        "https://api.stretch.com.example.com/api/v1",
        "https://notapi.stretch.com/api/v1",
        "http://127.0.0.1:8000/api.stretch.com",
    ],
)
def test_other_hosts_are_not_production(url):
    settings = load_settings(environ=target(STRETCH_BASE_URL=url))

    assert settings.is_production is False, f"host {settings.host!r} of {url}"


def test_production_pattern_can_be_replaced():
    local = load_settings(environ=target(STRETCH_PRODUCTION_PATTERN=r"^127\.0\.0\.1$"))
    remote = load_settings(
        environ=target(STRETCH_BASE_URL=PRODUCTION, STRETCH_PRODUCTION_PATTERN=r"^127\.")
    )

    assert (local.is_production, remote.is_production) == (True, False)
