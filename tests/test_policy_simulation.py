"""`gatehouse policy simulate` on exchanges recorded through the gateway."""

from __future__ import annotations

import json

import requests
import yaml

from policies.policy import POLICY_PATH
from tests.test_governance import MEMBERS, member, post


def record_traffic(gateway: str, token: str) -> None:
    """Two allowed signups (Ada, Alan) and one refused (Bob never consented)."""
    for email in ("ada@example.com", "alan@example.com", "bob@example.com"):
        post(gateway, token, MEMBERS, member(email))
    requests.get(f"{gateway}/proxy/mailchimp/ping", timeout=10)  # refused before policy


def candidate(tmp_path, change) -> str:
    document = yaml.safe_load(POLICY_PATH.read_text())
    change(document)
    path = tmp_path / "candidate.yaml"
    path.write_text(yaml.safe_dump(document))
    return str(path)


def simulate(cli, *args) -> dict:
    result = cli("policy", "simulate", "--since", "1h", "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_policy_in_force_changes_nothing(cli, gateway, demo_token):
    record_traffic(gateway, demo_token)
    report = simulate(cli)
    assert (report["replayed"], report["changes"]) == (3, [])


def test_dropping_dpf_would_refuse_every_exchange_to_the_us(cli, gateway, demo_token, tmp_path):
    record_traffic(gateway, demo_token)
    path = candidate(tmp_path, lambda d: d["transfers"].update(dpf=[]))
    changes = simulate(cli, "--policy", path)["changes"]
    assert [(c["before"], c["after"], c["rules"]) for c in changes] == [
        ("allow", "deny", ["transfers"]),
        ("allow", "deny", ["transfers"]),
        ("deny", "deny", ["transfers"]),  # Bob's refusal gains a reason
    ]


def test_legitimate_interest_for_email_would_let_bob_through(cli, gateway, demo_token, tmp_path):
    record_traffic(gateway, demo_token)
    path = candidate(
        tmp_path,
        lambda d: d["lawful_bases"].update(
            {"marketing.communications.email": "legitimate_interests"}
        ),
    )
    [change] = simulate(cli, "--policy", path)["changes"]
    assert (change["before"], change["after"], change["rules"]) == ("deny", "allow", ["consent"])
    text = cli("policy", "simulate", "--since", "1h", "--policy", path).stdout
    assert "1 would change" in text and "deny -> allow" in text and "tool mailchimp" in text


def test_a_broken_candidate_is_explained(cli, tmp_path):
    path = candidate(tmp_path, lambda d: d["lawful_bases"].update({"marketing": "vibes"}))
    result = cli("policy", "simulate", "--policy", path)
    assert result.returncode == 1
    assert "'vibes' is not one of" in result.stderr
