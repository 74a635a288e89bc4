"""`gatehouse connectors list|validate|import-openapi`, as IT runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from connectors.registry import SPECS_DIR

GATEHOUSE = str(Path(sys.executable).with_name("gatehouse"))
FIXTURES = Path(__file__).parent / "fixtures"
SHIPPED = sorted(path.stem for path in SPECS_DIR.glob("*.yaml"))


def gatehouse(*args: str, extra_folder: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
    if extra_folder:
        env["GATEHOUSE_CONNECTORS_PATH"] = str(extra_folder)
    return subprocess.run(
        [GATEHOUSE, "connectors", *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_validate_passes_for_every_shipped_spec():
    result = gatehouse("validate")
    assert result.returncode == 0, result.stderr
    assert (
        sorted(line.split()[1].removesuffix(".yaml:") for line in result.stdout.splitlines())
        == SHIPPED
    )


def test_validate_names_a_made_up_category(tmp_path):
    spec = yaml.safe_load((SPECS_DIR / "mailchimp.yaml").read_text())
    spec["operations"][0]["data_categories"] = {"/email_address": "user.contact.telepathy"}
    bad = tmp_path / "mailchimp.yaml"
    bad.write_text(yaml.safe_dump(spec))
    result = gatehouse("validate", str(bad))
    assert result.returncode == 1
    assert "'user.contact.telepathy' is not a fideslang data category" in result.stderr
    assert "/operations/0/data_categories//email_address" in result.stderr


def test_list_json_describes_operations():
    result = gatehouse("list", "--json")
    assert result.returncode == 0, result.stderr
    listed = {entry["vendor"]: entry for entry in json.loads(result.stdout)}
    assert sorted(listed) == SHIPPED
    mailchimp = {op["id"]: op for op in listed["mailchimp"]["operations"]}
    assert mailchimp["add_member"]["data_categories"]["/email_address"] == "user.contact.email"
    assert mailchimp["delete_member_permanently"]["erases"] is True
    assert listed["mailchimp"]["app_token"][0] == "the password of HTTP basic authentication"


def test_import_openapi_drafts_a_spec_that_validates_once_filled(tmp_path):
    result = gatehouse(
        "import-openapi", str(FIXTURES / "acme-crm.openapi.yaml"), "--vendor", "acme"
    )
    assert result.returncode == 0, result.stderr
    draft = yaml.safe_load(result.stdout)
    assert draft["base_url"] == "https://api.acme-crm.example/v2"
    assert draft["auth"] == {"type": "header", "name": "X-Acme-Key", "value": "{api_key}"}
    operations = {op["id"]: op for op in draft["operations"]}
    assert set(operations) == {
        "create_person",
        "list_people",
        "delete_person",
        "batch_create_people",
    }
    assert operations["create_person"]["body"]["required"] == ["email"]
    assert set(operations["create_person"]["data_categories"]) == {
        "/email",
        "/full_name",
        "/address/city",
        "/address/country",
        "/referrer",
    }
    assert "/people/*/email" in operations["batch_create_people"]["data_categories"]

    path = tmp_path / "acme.yaml"
    path.write_text(result.stdout)
    unfilled = gatehouse("validate", str(path))
    assert unfilled.returncode == 1
    assert "default_purpose: None is not of type 'string'" in unfilled.stderr

    categories = {
        "/email": "user.contact.email",
        "/full_name": "user.name",
        "/address/city": "user.contact.address.city",
        "/address/country": "user.contact.address.country",
        "/referrer": "user.unique_id",
        "/people/*/email": "user.contact.email",
        "/people/*/full_name": "user.name",
        "/people/*/address/city": "user.contact.address.city",
        "/people/*/address/country": "user.contact.address.country",
        "/people/*/referrer": "user.unique_id",
    }
    for operation in draft["operations"]:
        operation["default_purpose"] = "sales"
        if "data_categories" in operation:
            operation["data_categories"] = {
                pointer: categories[pointer] for pointer in operation["data_categories"]
            }
    path.write_text(yaml.safe_dump(draft))
    filled = gatehouse("validate", str(path))
    assert filled.returncode == 0, filled.stderr
    assert gatehouse("list", extra_folder=tmp_path).stdout.count("acme: Acme CRM") == 1


def test_import_openapi_refuses_a_non_openapi_file(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("swagger: '2.0'\n")
    result = gatehouse("import-openapi", str(path), "--vendor", "x")
    assert result.returncode == 1
    assert "not an OpenAPI 3 document" in result.stderr
