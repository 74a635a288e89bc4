"""Which department a client address belongs to, from a map of networks IT keeps.

The map is YAML (``10.1.0.0/16: marketing``, or a list of ``{cidr:, department:}``) or
CSV (``cidr,department``). The most specific network containing the address wins.
A department named by the evidence itself (an export's department column) comes first.
"""

from __future__ import annotations

import csv
import ipaddress
from functools import lru_cache
from pathlib import Path

import yaml

from catalog.errors import Invalid

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class DepartmentMap:
    def __init__(self, networks: list[tuple[Network, str]]) -> None:
        self.networks = sorted(networks, key=lambda pair: -pair[0].prefixlen)
        self.of_address = lru_cache(maxsize=16384)(self._of_address)

    @classmethod
    def empty(cls) -> DepartmentMap:
        return cls([])

    @classmethod
    def load(cls, path: Path) -> DepartmentMap:
        text = path.read_text("utf-8")
        pairs = _csv_pairs(text) if path.suffix.lower() == ".csv" else _yaml_pairs(text, path)
        networks = []
        for cidr, department in pairs:
            try:
                networks.append((ipaddress.ip_network(str(cidr).strip(), strict=False), department))
            except ValueError:
                raise Invalid(f"{path.name}: {cidr!r} is not a network (10.1.0.0/16)") from None
        return cls(networks)

    def _of_address(self, address: str) -> str | None:
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            return None
        for network, department in self.networks:
            if parsed.version == network.version and parsed in network:
                return department
        return None


def _yaml_pairs(text: str, path: Path) -> list[tuple[str, str]]:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise Invalid(f"{path.name} is not valid YAML: {exc}") from None
    if isinstance(document, dict):
        return [(str(cidr), str(department)) for cidr, department in document.items()]
    if isinstance(document, list) and all(
        isinstance(item, dict) and {"cidr", "department"} <= item.keys() for item in document
    ):
        return [(str(item["cidr"]), str(item["department"])) for item in document]
    raise Invalid(
        f"{path.name}: expected CIDR: department pairs, or a list of {{cidr, department}}"
    )


def _csv_pairs(text: str) -> list[tuple[str, str]]:
    rows = [row for row in csv.reader(text.splitlines()) if row and row[0].strip()]
    if rows and rows[0][0].strip().lower() == "cidr":
        rows = rows[1:]
    return [(row[0], row[1].strip()) for row in rows if len(row) >= 2]
