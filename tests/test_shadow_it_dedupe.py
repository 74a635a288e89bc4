"""Findings are deduplicated across scans: the same log again, recompressed, or grown is
counted once; overlapping logs are warned of; IT's marks survive later scans; and a
tool or request maps to its vendor by connector, website or name."""

from __future__ import annotations

import gzip
import shutil

from catalog.models import RequestStatus, Tool, ToolRequest, ToolStatus
from catalog.shadow_it.catalog_states import CatalogStates
from catalog.shadow_it.findings import get_finding, set_status
from catalog.shadow_it.recording import run_scan
from connectors.saas_vendors import VendorIndex
from gateway.db import db
from gateway.identity.actors import Actor
from tests.shadow_it_catalog import EGRESS, NOW, SAMPLES, add_sample_tools, sample_context

START = 1793610000  # 2026-11-02 09:00 UTC


def squid_lines(first: int, count: int, host: str = "insights.hotjar.com") -> str:
    return "".join(
        f"{START + second}.000 {100 + second % 7} 10.1.0.{second % 50} TCP_MISS/200 512 GET "
        f"http://{host}/page/{second} user{second % 9} HIER_DIRECT/198.51.100.1 text/html\n"
        for second in range(first, first + count)
    )


def _scan(app, *paths, since=None):
    with app.app_context():
        if db.session.get(Tool, 1) is None and not db.session.query(Tool).count():
            add_sample_tools(db.session)
        context = sample_context(db.session, since=since)
        report = run_scan(db.session, [(path, "auto") for path in paths], context, 3)
        db.session.commit()
        return report


def _hotjar_requests(report) -> int:
    return sum(item["requests"] for item in report.findings if item["vendor"]["slug"] == "hotjar")


def test_the_same_log_again_or_recompressed_counts_nothing_twice(app, tmp_path):
    log = tmp_path / "access.log"
    log.write_text(squid_lines(0, 100))
    first = _scan(app, log)
    assert (first.new_findings, _hotjar_requests(first)) == (1, 100)

    again = _scan(app, log)
    assert again.files[0]["already_scanned_lines"] == 100
    assert again.files[0]["events"] == 0 and again.findings == []

    rotated = tmp_path / "access.log.1.gz"
    with log.open("rb") as plain, gzip.open(rotated, "wb") as packed:
        shutil.copyfileobj(plain, packed)
    assert _scan(app, rotated).files[0]["already_scanned_lines"] == 100
    with app.app_context():
        assert get_finding(db.session, first.findings[0]["id"]).requests == 100


def test_a_grown_log_counts_only_its_new_lines_and_marks_survive(app, tmp_path):
    log = tmp_path / "access.log"
    log.write_text(squid_lines(0, 100))
    [finding] = _scan(app, log).findings
    with app.app_context():
        set_status(
            db.session,
            Actor.for_operator("test"),
            "test",
            get_finding(db.session, finding["id"]),
            "ignored",
        )
        db.session.commit()

    with log.open("a") as more:
        more.write(squid_lines(100, 30))
    grown = _scan(app, log)
    assert grown.files[0]["already_scanned_lines"] == 100
    assert grown.files[0]["events"] == 30
    [after] = grown.findings
    assert (after["id"], after["requests"], after["status"]) == (finding["id"], 130, "ignored")
    assert after["last_seen"].startswith("2026-11-02T09:02:09")


def test_a_different_log_overlapping_in_time_is_warned_of_and_since_skips_it(app, tmp_path):
    one, other = tmp_path / "proxy-a.log", tmp_path / "proxy-b.log"
    one.write_text(squid_lines(0, 100))
    other.write_text(squid_lines(50, 100).replace("user", "person"))
    _scan(app, one)
    overlapping = _scan(app, other)
    assert "overlaps proxy-a.log" in overlapping.files[0]["overlaps"][0]
    assert _hotjar_requests(overlapping) == 200  # the 50 seconds in both are counted twice

    third = tmp_path / "proxy-c.log"
    third.write_text(squid_lines(120, 60).replace("user", "someone"))
    later = _scan(
        app, third, since=NOW.replace(year=2026, month=11, day=2, hour=9, minute=2, second=30)
    )
    assert later.files[0]["before_since"] == 30
    assert (later.files[0]["events"], _hotjar_requests(later)) == (30, 230)


def test_several_files_in_one_scan_and_a_department_column_beats_the_map(app):
    report = _scan(app, SAMPLES / "squid_access.log", SAMPLES / "card_expenses.csv")
    hubspot = [item for item in report.findings if item["vendor"]["slug"] == "hubspot"]
    assert [(item["department"], item["requests"], item["kinds"]) for item in hubspot] == [
        ("sales", 4, ["api", "app", "merchant"])
    ]


def test_tools_and_requests_map_to_vendors_by_connector_website_or_name(app):
    with app.app_context():
        session = db.session
        session.add_all(
            [
                Tool(
                    slug="newsletters",
                    name="Newsletters",
                    connector="mailchimp",
                    status=ToolStatus.RETIRED,
                ),
                Tool(
                    slug="crm",
                    name="CRM",
                    connector="generic",
                    website="https://www.hubspot.com/",
                    status=ToolStatus.UNDER_REVIEW,
                ),
                _request("Hotjar", "https://example.org", RequestStatus.REJECTED),
            ]
        )
        session.flush()
        states = CatalogStates.read(session, VendorIndex.default(), EGRESS)
        assert states.of("mailchimp").state == "retired"
        assert states.of("hubspot").state == "requested"
        assert states.of("hotjar").state == "rejected"

        session.add(_request("Heatmaps", "https://hotjar.com", RequestStatus.SUBMITTED))
        session.flush()
        assert (
            CatalogStates.read(session, VendorIndex.default(), EGRESS).of("hotjar").state
            == "requested"
        )
        session.rollback()


def _request(name: str, website: str, status: RequestStatus) -> ToolRequest:
    return ToolRequest(
        vendor_name=name,
        website=website,
        category="analytics",
        justification="see how visitors use the site",
        status=status,
        requester_label="alice@example.com",
    )


def test_hostile_lines_are_stored_safely_or_counted_malformed(app, tmp_path):
    export = tmp_path / "export.csv"
    long_host = ".".join(["a" * 60] * 5) + ".com"
    export.write_bytes(
        b"time,src_ip,dest_host,department\n"
        + b"2026-11-02T09:00:00Z,10.1.0.5,insights.hotjar.com,"
        + b"d" * 100
        + b"\n"
        + b"2026-11-02T09:00:01Z,10.1.0.5,app.\x00hotjar.com,growth\n"
        + f"2026-11-02T09:00:02Z,10.1.0.5,{long_host},growth\n".encode()
        + b"2026-11-02T09:00:03Z,10.1.0.5,\xff\xfe.example.com,growth\n"
    )
    report = _scan(app, export)
    assert [(f["vendor"]["slug"], f["department"]) for f in report.findings] == [
        ("hotjar", "d" * 64)
    ]
    assert report.files[0]["events"] + report.files[0]["malformed"] == 4
