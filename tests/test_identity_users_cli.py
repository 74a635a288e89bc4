"""``gatehouse users`` as an operator runs it, and the one-time link it prints, opened in a
browser-like client against a live gateway."""

from __future__ import annotations

import json
import re

import pytest
import requests
from click.testing import CliRunner

from gateway.cli import cli as gatehouse
from tests.conftest import apply

_LINK = re.compile(r"http://127\.0\.0\.1:8080(/portal/set-password/[\w-]+)")
_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
NEW_PASSWORD = "twelve chars or more"


@pytest.fixture
def growth(app):
    apply(app, {"departments": [{"slug": "growth", "name": "Growth"}]})


def test_every_users_command_has_help():
    for command in (["users"], ["users", "create"], ["users", "list"], ["users", "deactivate"]):
        result = CliRunner().invoke(gatehouse, [*command, "--help"], prog_name="gatehouse")
        assert result.exit_code == 0, result.output
        assert "Usage: gatehouse users" in result.output


def _post_form(browser: requests.Session, url: str, **fields) -> requests.Response:
    token = _CSRF_FIELD.search(browser.get(url, timeout=10).text).group(1)
    return browser.post(url, data={"csrf_token": token, **fields}, timeout=10)


def test_a_new_user_sets_a_password_with_the_printed_link_once(cli, gateway, growth):
    created = cli("users", "create", "--email", "Ada@Example.com", "--role", "marketer",
                  "--department", "growth", "--name", "Ada")  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert "user ada@example.com created (marketer)" in created.stdout
    link = gateway + _LINK.search(created.stdout).group(1)
    browser = requests.Session()
    page = browser.get(link, timeout=10)
    assert page.status_code == 200 and "ada@example.com" in page.text
    assert page.headers["Referrer-Policy"] == "no-referrer"

    short = _post_form(browser, link, password="short", confirm="short")
    assert short.status_code == 422
    assert 'aria-invalid="true"' in short.text and "must be from 12" in short.text
    differ = _post_form(browser, link, password=NEW_PASSWORD, confirm=NEW_PASSWORD + "!")
    assert differ.status_code == 422 and "The two passwords differ." in differ.text

    done = _post_form(browser, link, password=NEW_PASSWORD, confirm=NEW_PASSWORD)
    assert done.status_code == 200 and done.url == f"{gateway}/portal/"
    assert "Your password is set" in done.text
    again = requests.get(link, timeout=10)
    assert again.status_code == 404 and "used already" in again.text

    signed_in = _post_form(
        requests.Session(),
        f"{gateway}/portal/sign-in",
        email="ada@example.com",
        password=NEW_PASSWORD,
    )
    assert signed_in.url == f"{gateway}/portal/"


def test_a_forged_link_opens_nothing(gateway):
    answer = requests.get(f"{gateway}/portal/set-password/not-a-real-token", timeout=10)
    assert answer.status_code == 404


def test_create_with_a_password_from_stdin_then_list_and_deactivate(cli, growth):
    created = cli("users", "create", "--email", "rey@example.com", "--role", "it_reviewer",
                  "--password-stdin", stdin=NEW_PASSWORD + "\n")  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert "set-password" not in created.stdout
    listed = json.loads(cli("users", "list", "--json").stdout)
    assert [(u["email"], u["role"], u["active"]) for u in listed] == [
        ("rey@example.com", "it_reviewer", True)
    ]
    deactivated = cli("users", "deactivate", "--email", "REY@example.com")
    assert deactivated.returncode == 0 and "deactivated" in deactivated.stdout
    assert "(deactivated)" in cli("users", "list").stdout


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--email", "ada@example.com", "--role", "marketer", "--department", "nowhere"],
         "no department 'nowhere'"),
        (["--email", "not an address", "--role", "marketer"], "/email: must be an e-mail"),
        (["--email", "ada@example.com", "--role", "boss"], "'boss' is not one of"),
    ],
)  # fmt: skip
def test_a_bad_user_is_refused_with_what_to_fix(cli, growth, arguments, message):
    result = cli("users", "create", *arguments)
    assert result.returncode != 0
    assert message in result.stderr
    assert json.loads(cli("users", "list", "--json").stdout) == []


def test_a_short_password_from_stdin_is_refused(cli):
    result = cli("users", "create", "--email", "ada@example.com", "--role", "auditor",
                 "--password-stdin", stdin="short\n")  # fmt: skip
    assert result.returncode != 0 and "/password: must be from 12" in result.stderr


def test_deactivating_an_unknown_user_says_so(cli):
    result = cli("users", "deactivate", "--email", "nobody@example.com")
    assert result.returncode != 0 and "no user with the e-mail address" in result.stderr
