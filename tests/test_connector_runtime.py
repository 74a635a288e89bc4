"""Specs at run time: a changed spec file is picked up without a restart; generic tools."""

from __future__ import annotations

import pytest
import requests
import yaml

from catalog.declarative import CatalogError, apply_document
from gateway.app import create_app
from gateway.db import db
from gateway.vault import vault_of
from tests.conftest import apply, close, demo_document, get_token, serve


def acme_spec(operations: list[str]) -> dict:
    return {
        "vendor": "acme",
        "name": "Acme CRM",
        "base_url": "https://api.acme-crm.example/v2",
        "credentials": {"api_key": {"description": "API key"}},
        "auth": {"type": "header", "name": "X-Acme-Key", "value": "{api_key}"},
        "app_token": [{"kind": "header", "name": "X-Acme-Key"}],
        "operations": [
            {
                "id": name,
                "method": "POST",
                "path": f"/{name}",
                "default_purpose": "sales",
                "body": {"type": "object", "required": ["email"]},
                "data_categories": {"/email": "user.contact.email"},
                "subjects": [{"kind": "email", "pointer": "/email"}],
            }
            for name in operations
        ],
    }


@pytest.fixture
def acme(tmp_path, config, upstream):
    """A gateway whose specs include a folder of IT's own, with one Acme tool."""
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "acme.yaml").write_text(yaml.safe_dump(acme_spec(["people"])))
    app = create_app(config.with_overrides(connector_folders=(*config.connector_folders, folder)))
    document = demo_document(upstream.url)
    document["tools"] = [
        {
            "slug": "acme",
            "name": "Acme",
            "connector": "acme",
            "base_url": upstream.url,
            "allow_private_network": True,  # the recording upstream listens on loopback
            "status": "approved",
            "country": "IE",
            "credentials": {"api_key": "vendor-key"},
        }
    ]
    document["grants"][0].update(tool="acme", purposes=["sales"])
    client = apply(app, document).new_clients[0]
    live = serve(app)
    yield live.url, folder, get_token(live.url, client)
    live.stop()
    close(app)


def post(url: str, token: str, path: str) -> requests.Response:
    return requests.post(
        f"{url}/proxy/acme/{path}",
        json={"email": "ada@example.com"},
        headers={"X-Acme-Key": token},
        timeout=10,
    )


def test_a_changed_spec_is_used_on_the_next_call(acme, upstream):
    url, folder, token = acme
    assert post(url, token, "people").status_code == 200
    assert post(url, token, "leads").status_code == 403
    (folder / "acme.yaml").write_text(yaml.safe_dump(acme_spec(["people", "leads"])))
    assert post(url, token, "leads").status_code == 200
    assert [r["headers"]["x-acme-key"] for r in upstream.requests] == ["vendor-key"] * 2


def test_a_removed_spec_makes_its_tools_unusable(acme, upstream):
    url, folder, token = acme
    (folder / "acme.yaml").unlink()
    response = post(url, token, "people")
    assert response.status_code == 503
    assert response.json()["type"].endswith("/tool-misconfigured")
    assert upstream.requests == []


def test_generic_tool_needs_a_valid_inline_spec(app):
    document = demo_document("http://127.0.0.1:9")
    document["tools"][0].update(connector="generic")
    document["tools"][0].pop("credentials")
    with app.app_context(), pytest.raises(CatalogError, match="give a spec exactly when"):
        apply_document(db.session, document, vault_of(app), {})
    inline = acme_spec(["people"])
    for key in ("vendor", "name", "base_url"):
        inline.pop(key)
    inline["operations"][0]["data_categories"] = {"/email": "user.contact.mind"}
    document["tools"][0]["spec"] = inline
    with app.app_context(), pytest.raises(CatalogError, match=r"user\.contact\.mind"):
        apply_document(db.session, document, vault_of(app), {})
