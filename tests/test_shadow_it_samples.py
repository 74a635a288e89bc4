"""Each checked-in sample format, scanned against the sample catalog, reports exactly the
expected findings, unknown names and malformed lines."""

from __future__ import annotations

import pytest

from catalog.shadow_it.recording import run_scan
from gateway.db import db
from tests.shadow_it_catalog import SAMPLES, add_sample_tools, sample_context

#: vendor, department, state, requests, sources, users, kinds
HOST_FINDINGS = {
    ("hotjar", "marketing", "not_in_catalog", 1, ("10.1.0.5",), ("alice",), ("app",)),
    ("hotjar", "sales", "not_in_catalog", 1, ("10.2.0.9",), ("dave",), ("web",)),
    ("hubspot", "sales", "suspended", 2, ("10.2.0.8",), ("carol",), ("api", "app")),
    ("mailchimp", "marketing", "bypassing", 1, ("10.1.0.7",), ("bob",), ("api",)),
}
WITHOUT_USERS = {(*row[:5], (), row[6]) for row in HOST_FINDINGS}
UNKNOWN_DOMAIN = [{"kind": "domain", "name": "unknownsaas.io", "hits": 3, "total_hits": 3}]

CASES = {
    "squid_access.log": ("squid", HOST_FINDINGS, 2, [6, 13], {}),
    "squid_combined.log": ("squid", HOST_FINDINGS, 2, [4, 13], {}),
    "bind_query.log": ("dns", WITHOUT_USERS, 1, [13], {}),
    "dnsmasq.log": ("dns", WITHOUT_USERS, 2, [6, 25], {}),
    "zeek_dns.log": ("zeek", WITHOUT_USERS, 2, [13, 21], {}),
    "zeek_http.log": ("zeek", WITHOUT_USERS, 2, [13, 21], {}),
    "zeek_ssl.json": ("zeek", WITHOUT_USERS, 2, [3, 13], {}),
    "firewall_export.csv": (
        "csv",
        HOST_FINDINGS,
        2,
        [8, 14],
        {"host": "dest_host", "source": "src_ip", "user": "username", "time": "timestamp"},
    ),
    "proxy_export.jsonl": ("csv", HOST_FINDINGS, 2, [10, 13], {}),
}


def _summary(findings: list[dict]) -> set[tuple]:
    return {
        (
            item["vendor"]["slug"],
            item["department"],
            item["state"],
            item["requests"],
            tuple(item["sources"]),
            tuple(item["users"]),
            tuple(item["kinds"]),
        )
        for item in findings
    }


def _scan(app, name: str, file_format: str, columns: dict, threshold: int = 3):
    with app.app_context():
        add_sample_tools(db.session)
        report = run_scan(
            db.session,
            [(SAMPLES / name, file_format)],
            sample_context(db.session, columns),
            threshold,
        )
        db.session.commit()
        return report


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("sniffed", [True, False], ids=["auto", "named"])
def test_each_format_reports_exactly_the_expected_findings(app, name, sniffed):
    expected_format, findings, malformed, bad_lines, columns = CASES[name]
    report = _scan(app, name, "auto" if sniffed else expected_format, columns)
    [file] = report.files
    assert file["format"] == expected_format
    assert _summary(report.findings) == findings
    assert report.new_findings == len(findings)
    assert file["sanctioned"] == 2  # Mailchimp's website, and the gateway calling its API
    assert file["malformed"] == malformed
    assert [bad["line"] for bad in file["malformed_samples"]] == bad_lines
    assert report.unknown == UNKNOWN_DOMAIN


def test_card_expenses_report_spend_by_merchant(app):
    report = _scan(app, "card_expenses.csv", "auto", {})
    [file] = report.files
    assert file["format"] == "expenses"
    summary = {
        (
            item["vendor"]["slug"],
            item["department"],
            item["state"],
            item["requests"],
            tuple(item["users"]),
            tuple(item["kinds"]),
            tuple(item["spend"].items()),
        )
        for item in report.findings
    }
    assert summary == {
        (
            "hubspot",
            "sales",
            "suspended",
            2,
            ("carol@example.com",),
            ("merchant",),
            (("EUR", "2000.50"),),
        ),
        (
            "hotjar",
            "marketing",
            "not_in_catalog",
            1,
            ("alice@example.com",),
            ("merchant",),
            (("EUR", "39.00"),),
        ),
    }
    assert file["sanctioned"] == 1  # Mailchimp is approved: paying for it is expected
    assert [bad["line"] for bad in file["malformed_samples"]] == [6, 11]
    assert report.unknown == [
        {"kind": "merchant", "name": "ACME WIDGETS SAAS", "hits": 3, "total_hits": 3}
    ]
