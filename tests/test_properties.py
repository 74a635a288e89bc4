"""Property tests: what must hold for every input, not only the examples other tests chose.

Hypothesis generates hostile inputs for the parts that read what an app sends before
any decision: the path matcher and the upstream URL, JSON pointers and the removal of
what a decision strips, the body as one JSON document and the people in it, and the TC
string decoder. Each property is one guarantee the gateway relies on: a path never
escapes its tool, a stripped field is really gone, a body has one reading, everyone it
names is found, and a damaged consent string is refused, never misread.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from connectors.classify import classify
from connectors.pointers import parse, remove, render, resolve
from connectors.registry import SPECS_DIR, load_spec_file
from connectors.spec import Operation
from gateway.unambiguous_json import AmbiguousJSON, parse_document
from gateway.upstream import UnsafePath, upstream_url
from policies.tcf import PURPOSE_COUNT, TCString, TCStringError, decode

# Bounded so that the suite stays fast in CI; each property still sees hundreds of inputs.
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SPECS = [load_spec_file(path) for path in sorted(SPECS_DIR.glob("*.yaml"))]
OPERATIONS = [operation for spec in SPECS for operation in spec.operations]

#: Characters that matter to paths: separators, dots, escapes, and some that are not ASCII.
PATH_ALPHABET = string.ascii_letters + string.digits + "/.%?#;:@!$&'()*+,=-_~\\ \t\n\x00é\uff0e"
paths = st.text(alphabet=PATH_ALPHABET, max_size=60) | st.text(max_size=40)
# A segment a template can hold: what an app might put where a parameter goes.
segments = st.text(alphabet=PATH_ALPHABET.replace("/", ""), min_size=1, max_size=12)

json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
json_documents = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(alphabet="ab*/~0", max_size=3), children, max_size=4)
    ),
    max_leaves=20,
)
pointer_parts = st.lists(
    st.sampled_from(["a", "b", "*", "0", "1", "a/b", "~", "01"]), min_size=1, max_size=4
)


# --- the path matcher and the upstream URL -----------------------------------------------------


def _fill(template: str, params: dict[str, str]) -> str:
    for name, value in params.items():
        template = template.replace("{" + name + "}", value)
    return template


@PROPERTY
@given(operation=st.sampled_from(OPERATIONS), path=paths)
def test_a_match_rebuilds_exactly_the_path_it_matched(operation: Operation, path: str):
    params = operation.match(operation.method, path)
    if params is None:
        return
    assert all(value and "/" not in value for value in params.values())
    assert _fill(operation.path, params) == path


@PROPERTY
@given(operation=st.sampled_from(OPERATIONS), data=st.data())
def test_every_filled_template_matches_its_own_operation_or_a_more_specific_one(
    operation: Operation, data
):
    spec = next(spec for spec in SPECS if operation in spec.operations)
    params = {
        name: data.draw(segments.filter(lambda value, name=name: _fits(operation, name, value)))
        for name in operation.pattern.groupindex
    }
    path = _fill(operation.path, params)
    found = spec.operation_for(operation.method, path.lstrip("/"))
    assert found is not None
    matched, values = found
    assert matched.specificity >= operation.specificity
    assert _fill(matched.path, values) == "/" + path.strip("/")


def _fits(operation: Operation, name: str, value: str) -> bool:
    single = Operation(
        "x",
        "GET",
        "/{" + name + "}",
        operation.default_purpose,
        param_patterns=operation.param_patterns,
    )
    # Only values the parameter accepts, and none that the normalising strip would change.
    return single.match("GET", "/" + value) is not None and value.strip("/") == value


BASE = "https://api.vendor.example/v3"


#: A query string as the WSGI server hands it over: no spaces, no fragment.
queries = st.text(alphabet=string.printable.translate({ord(c): None for c in " \t\n\r\x0b\x0c#"}))


@PROPERTY
@given(path=paths, query=queries)
@example(path="..", query="")
@example(path="lists/%2e%2e/admin", query="")
@example(path="lists/..%2f..%2fadmin", query="")
@example(path="lists/..;/admin", query="")
@example(path="lists/.;x=1/admin", query="")
@example(path="//evil.example/x", query="")
@example(path="lists?admin=1#x", query="a=1")
@example(path="http://evil.example", query="")
def test_an_upstream_url_never_leaves_the_base(path: str, query: str):
    try:
        url = upstream_url(BASE, path, query, {})
    except UnsafePath:
        return
    target = urlsplit(url)
    assert (target.scheme, target.netloc) == ("https", "api.vendor.example")
    # The vendor reads the path decoded once: that is exactly what the app asked for.
    assert unquote(target.path) == "/v3/" + path
    assert not {".", ".."} & {segment.split(";")[0] for segment in path.split("/")}
    assert (target.query, target.fragment) == (query, "")


@PROPERTY
@given(
    path=st.text(alphabet="abc/", max_size=12),
    query=st.lists(st.tuples(st.sampled_from(["k", "api_secret", "x"]), st.text(max_size=5))),
)
def test_the_apps_token_parameter_is_dropped_and_the_vendors_set(path, query):
    try:
        url = upstream_url(
            BASE, path, urlencode(query), {"key": "VENDOR"}, frozenset({"api_secret"})
        )
    except UnsafePath:
        return
    sent = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    assert ("key", "VENDOR") in sent
    assert all(name != "api_secret" for name, _ in sent)
    assert [pair for pair in sent if pair[0] != "key"] == [
        pair for pair in query if pair[0] not in {"api_secret", "key"}
    ]


# --- JSON pointers and what a decision strips ----------------------------------------------------


@PROPERTY
@given(parts=st.lists(st.text(max_size=6), max_size=5).map(tuple))
def test_a_rendered_pointer_parses_back(parts):
    assert parse(render(parts)) == parts


@PROPERTY
@given(document=json_documents, parts=pointer_parts)
def test_removing_what_a_template_reaches_leaves_nothing_there(document, parts):
    template = render(tuple(parts))  # "*" stays a wildcard
    before = json.dumps(document, sort_keys=True)
    found = [pointer for pointer, _ in resolve(document, template)]
    remove(document, found)
    if not found:
        assert json.dumps(document, sort_keys=True) == before
        return
    # An array index names whichever item moved up into its place; any other template
    # must reach nothing once what it reached is removed.
    if not any(part.isdigit() for part in parts):
        assert list(resolve(document, template)) == []


@PROPERTY
@given(document=st.dictionaries(st.sampled_from("abcd"), json_documents, max_size=4))
def test_stripping_one_member_leaves_every_other_member_alone(document):
    for key in list(document):
        copy = json.loads(json.dumps(document))
        remove(copy, [render((key,))])
        assert key not in copy
        assert {k: v for k, v in document.items() if k != key} == copy


# --- the TC string decoder -----------------------------------------------------------------------

FIXTURE_STRINGS = [
    fixture["tc_string"]
    for fixture in json.loads(
        (Path(__file__).parent / "fixtures" / "tcf" / "strings.json").read_text()
    )
    if "tc_string" in fixture
]
BASE64URL = string.ascii_letters + string.digits + "-_"


def _decoded_or_refused(tc_string: str) -> TCString | None:
    try:
        return decode(tc_string)
    except TCStringError:
        return None


@PROPERTY
@given(tc_string=st.text(alphabet=BASE64URL + ".", max_size=200) | st.text(max_size=60))
def test_any_text_is_decoded_or_refused_with_a_tc_string_error(tc_string):
    decoded = _decoded_or_refused(tc_string)
    if decoded is not None:
        _usable(decoded)


@PROPERTY
@given(
    fixture=st.sampled_from(FIXTURE_STRINGS),
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(BASE64URL + ".")), max_size=4),
    cut=st.integers(0, 10_000),
)
def test_damaged_official_strings_are_refused_or_read_whole(fixture, edits, cut):
    damaged = list(fixture)
    for position, character in edits:
        damaged[position % len(damaged)] = character
    decoded = _decoded_or_refused("".join(damaged)[: max(1, cut % (len(fixture) + 1))])
    if decoded is not None:
        _usable(decoded)


def _usable(decoded: TCString) -> None:
    """Everything the engine asks of a decoded string answers plainly."""
    for purpose in range(1, PURPOSE_COUNT + 1):
        for vendor in (1, 755, 65535):
            assert decoded.purpose_allowed(purpose, vendor) in (True, False)
    assert decoded.version == 2
    assert decoded.policy_version >= 4


@pytest.mark.parametrize("tc_string", FIXTURE_STRINGS[:3])
def test_the_fixture_strings_still_decode(tc_string):
    assert _decoded_or_refused(tc_string) is not None


# --- reading a body: one document, and every person in it ---------------------------------------

#: JSON documents as apps send them: no NaN, within the nesting the gateway reads.
sent_documents = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=25,
)


@PROPERTY
@given(document=sent_documents)
def test_a_plain_json_document_reads_back_as_itself(document):
    assert parse_document(json.dumps(document).encode()) == document


@PROPERTY
@given(
    document=st.dictionaries(st.text(max_size=6), sent_documents, min_size=1, max_size=4),
    data=st.data(),
)
def test_a_member_named_twice_is_refused_where_it_stands(document, data):
    name = data.draw(st.sampled_from(sorted(document)))
    text = json.dumps(document)
    twice = text[:-1] + f", {json.dumps(name)}: {json.dumps(document[name])}}}"
    with pytest.raises(AmbiguousJSON) as refused:
        parse_document(twice.encode())
    assert render((name,)) in [problem.pointer for problem in refused.value.problems]


@PROPERTY
@given(body=st.binary(max_size=200) | st.text(max_size=100).map(str.encode))
@example(body=b'{"a": NaN}')
@example(body=b'"\\ud800"')
@example(body=b"\xef\xbb\xbf{}")
@example(body=b"[" * 40 + b"]" * 40)
def test_any_body_is_read_as_one_document_or_refused_with_a_reason(body):
    try:
        parse_document(body)
    except AmbiguousJSON as refused:
        assert refused.problems and all(problem.message for problem in refused.problems)


BATCH = next(
    op
    for op in load_spec_file(SPECS_DIR / "mailchimp.yaml").operations
    if op.id == "batch_subscribe"
)
emails = st.from_regex(r"[a-z]{1,8}(\.[a-z]{1,5})?@[a-z]{1,8}\.(com|org|de)", fullmatch=True)


@PROPERTY
@given(addresses=st.lists(emails, min_size=1, max_size=8), notes=st.lists(emails, max_size=3))
def test_every_person_in_a_batch_is_a_subject_of_their_own_item(addresses, notes):
    members = [{"email_address": address} for address in addresses]
    for index, note in enumerate(notes):  # an open part naming someone else
        fields = members[index % len(members)].setdefault("merge_fields", {})
        fields[f"REF{index}"] = f"from {note}, thanks"
    found = classify(BATCH, {"members": members}, {"list_id": "abc"}).subjects
    declared = [(s.identifier, s.item) for s in found if s.location.endswith("/email_address")]
    assert declared == [(address, f"/members/{i}") for i, address in enumerate(addresses)]
    referrers = {(s.identifier, s.item) for s in found if "/merge_fields/REF" in s.location}
    assert referrers == {
        (note, f"/members/{index % len(members)}") for index, note in enumerate(notes)
    }
