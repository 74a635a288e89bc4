"""Every query of the Grafana dashboard in docs/ names only metrics the gateway exports.

A renamed or dropped metric would otherwise leave an empty panel that nobody notices
until it is needed. Each PromQL expression is read token by token (strings, label
matchers, grouping clauses, ranges), so that a label name, a function or a keyword is
never taken for a metric name; what is left must be a name in the gateway's registry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

import gateway.metrics  # noqa: F401  (registers the gateway's metrics)

DASHBOARD = Path(__file__).parent.parent / "docs" / "grafana" / "gatehouse.json"

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
    | (?P<duration>\[[^\]]*\])
    | (?P<number>\d+(?:\.\d+)?(?:e[+-]?\d+)?(?:ms|[smhdwy](?![A-Za-z0-9_]))?)
    | (?P<name>[A-Za-z_:][A-Za-z0-9_:]*)
    | (?P<operator>=~|!~|==|!=|<=|>=|[-+*/%^<>=,(){}])
    )""",
    re.VERBOSE,
)
#: Words that name no metric: binary operators and the modifiers of grouping and matching.
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "group_left", "group_right"}
_GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
#: The PromQL functions and aggregations the dashboard may use.
_FUNCTIONS = {
    "sum", "avg", "min", "max", "count", "topk", "bottomk", "quantile", "rate", "increase",
    "irate", "delta", "histogram_quantile", "clamp_min", "abs", "sort_desc",
}  # fmt: skip
#: A query variable's values: ``label_values(<selector>, <label>)`` (Grafana's, not PromQL).
_LABEL_VALUES = re.compile(r"label_values\((?P<selector>.+),\s*[A-Za-z_]\w*\s*\)$")
#: Grafana's own variables, which it replaces before the query reaches Prometheus.
_GRAFANA_RANGES = re.compile(r"\$__(?:rate_interval|interval|range)")


def exported_names() -> set[str]:
    """The series names a scrape of the gateway can hold, suffixes included."""
    names = set()
    for family in REGISTRY.collect():
        if not family.name.startswith("gatehouse_"):
            continue
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names |= {f"{family.name}_{suffix}" for suffix in ("bucket", "count", "sum")}
        else:
            names.add(family.name)
    return names


def tokens(expression: str) -> Iterator[tuple[str, str]]:
    position, text = 0, _GRAFANA_RANGES.sub("5m", expression).rstrip()
    while position < len(text):
        found = _TOKEN.match(text, position)
        if found is None or found.end() == position:
            raise ValueError(f"cannot read {text[position:]!r} in {expression!r}")
        yield found.lastgroup, found.group(found.lastgroup)
        position = found.end()


def metric_names(expression: str) -> set[str]:
    """The metric names in ``expression``; raises ValueError if it cannot be read."""
    read = list(tokens(expression))
    names, depth, braces, label_list = set(), 0, 0, None
    for index, (kind, value) in enumerate(read):
        following = read[index + 1][1] if index + 1 < len(read) else None
        if value == "(":
            depth += 1
        elif value == ")":
            depth -= 1
            if label_list == depth:
                label_list = None
        elif value == "{":
            braces += 1
        elif value == "}":
            braces -= 1
        if depth < 0 or braces < 0:
            raise ValueError(f"unbalanced brackets in {expression!r}")
        if kind != "name" or braces or label_list is not None:
            continue
        if value in _GROUPING and following == "(":
            label_list = depth  # the next "(" opens a list of labels
            continue
        if following in _GROUPING and value in _FUNCTIONS:  # "sum by (...) (...)"
            continue
        if following == "(":
            if value not in _FUNCTIONS:
                raise ValueError(f"unknown function {value!r} in {expression!r}")
        elif value not in _KEYWORDS:
            names.add(value)
    if depth or braces:
        raise ValueError(f"unbalanced brackets in {expression!r}")
    return names


def queries(dashboard: dict) -> Iterator[tuple[str, str]]:
    """(where, expression) of every panel target and every query variable."""
    panels = list(dashboard["panels"])
    while panels:
        panel = panels.pop()
        panels.extend(panel.get("panels", []))
        for target in panel.get("targets", []):
            yield f"panel {panel['title']!r}", target["expr"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            found = _LABEL_VALUES.match(variable["query"]["query"])
            assert found, f"variable {variable['name']!r} is not a label_values query"
            yield f"variable {variable['name']!r}", found.group("selector")


def test_the_reader_tells_metrics_from_labels_functions_and_keywords():
    expression = (
        'sum by (tool, le) (rate(a_total{tool=~"x|y",rule!="b_total"}[$__rate_interval])) '
        "/ on (tool) group_left sum without (kind) (increase(b_bucket[5m] offset 1h)) > bool 0.5"
    )
    assert metric_names(expression) == {"a_total", "b_bucket"}
    with pytest.raises(ValueError, match="unbalanced"):
        metric_names("sum(rate(a_total[5m])")
    with pytest.raises(ValueError, match="unknown function"):
        metric_names("rat(a_total[5m])")


def test_every_dashboard_query_names_exported_metrics():
    dashboard = json.loads(DASHBOARD.read_text())
    exported = exported_names()
    found = list(queries(dashboard))
    assert len(found) >= 15
    used = set()
    for where, expression in found:
        names = metric_names(expression)
        assert names, f"{where} names no metric: {expression}"
        assert names <= exported, f"{where} names {sorted(names - exported)}, not exported"
        used |= names
    # Every metric family the gateway exports is on the dashboard somewhere.
    families = {re.sub(r"_(total|bucket|count|sum)$", "", name) for name in exported}
    assert families <= {re.sub(r"_(total|bucket|count|sum)$", "", name) for name in used}


def test_the_exported_names_are_read_from_the_registry():
    exported = exported_names()
    assert "gatehouse_exchanges_total" in exported
    assert {"gatehouse_exchange_seconds_bucket", "gatehouse_exchange_seconds_sum"} <= exported
    assert "gatehouse_exchanges" not in exported
