"""The small readers a scan relies on: the department map, the column mapping, amounts,
host names in URLs, and the progress bar a person at a terminal sees."""

from __future__ import annotations

import os
import pty
import subprocess

import pytest

from catalog.errors import Invalid
from catalog.shadow_it.columns import parse_mapping
from catalog.shadow_it.departments import DepartmentMap
from catalog.shadow_it.evidence import host_of
from catalog.shadow_it.expenses import _minor_units
from tests.conftest import GATEHOUSE
from tests.shadow_it_catalog import SAMPLES


def test_department_maps_in_yaml_or_csv_and_the_most_specific_network_wins(tmp_path):
    listed = tmp_path / "networks.yaml"
    listed.write_text(
        "- {cidr: 10.0.0.0/8, department: staff}\n"
        "- {cidr: 10.1.2.0/24, department: growth}\n"
        "- {cidr: '2001:db8::/32', department: lab}\n"
    )
    networks = DepartmentMap.load(listed)
    assert networks.of_address("10.1.2.3") == "growth"
    assert networks.of_address("10.9.9.9") == "staff"
    assert networks.of_address("2001:db8::1") == "lab"
    assert networks.of_address("192.0.2.1") is None
    assert networks.of_address("not-an-address") is None
    assert DepartmentMap.load(SAMPLES / "departments.csv").of_address("10.2.0.8") == "sales"

    broken = tmp_path / "broken.csv"
    broken.write_text("cidr,department\n10.1.0.0/33,growth\n")
    with pytest.raises(Invalid, match=r"'10\.1\.0\.0/33' is not a network"):
        DepartmentMap.load(broken)


def test_column_mappings_amounts_and_hosts():
    assert parse_mapping("host=dest_host, source=src_ip") == {
        "host": "dest_host",
        "source": "src_ip",
    }
    assert parse_mapping(None) == {}
    assert [_minor_units(text) for text in ("1,234.50", "1.234,50", "€ 39", "-5.00", "x")] == [
        123450,
        123450,
        3900,
        -500,
        None,
    ]
    assert host_of("https://user@App.HubSpot.com:443/path?q=1") == "app.hubspot.com"
    assert host_of("api.hubapi.com:443") == "api.hubapi.com"
    assert host_of("[2001:db8::1]:443") == "2001:db8::1"
    assert host_of("") is None


def test_a_person_at_a_terminal_sees_a_progress_bar(cli_env):
    parent, child = pty.openpty()
    scan = subprocess.Popen(
        [GATEHOUSE, "shadow-it", "scan", str(SAMPLES / "zeek_dns.log")],
        stdout=subprocess.PIPE,
        stderr=child,
        env=cli_env,
    )
    os.close(child)
    shown = b""
    while chunk := _read(parent):
        shown += chunk
    scan.wait(timeout=60)
    assert scan.returncode == 0
    assert b"Scanning" in shown and b"100%" in shown
    assert b"findings" in scan.stdout.read()


def _read(descriptor: int) -> bytes:
    try:
        return os.read(descriptor, 4096)
    except OSError:  # the terminal closed with the process
        return b""
