"""A connector spec as plain data, for `gatehouse connectors list --json` and the API."""

from __future__ import annotations

from connectors.spec import ConnectorSpec, Operation


def describe_spec(spec: ConnectorSpec) -> dict:
    return {
        "vendor": spec.vendor,
        "name": spec.name,
        "docs": spec.docs,
        "base_url": spec.base_url,
        "auth": spec.auth.type,
        "credentials": sorted(spec.credential_fields),
        "app_token": [location.describe() for location in spec.app_token],
        "operations": [describe_operation(operation) for operation in spec.operations],
    }


def describe_operation(operation: Operation) -> dict:
    return {
        "id": operation.id,
        "summary": operation.summary,
        "method": operation.method,
        "path": operation.path,
        "default_purpose": operation.default_purpose,
        "data_categories": dict(operation.data_categories),
        "subjects": [
            {"kind": s.kind, "pointer": s.pointer, "path_param": s.path_param}
            for s in operation.subjects
        ],
        "idempotent": operation.idempotent,
        "erases": operation.erases,
        "unsubscribes": operation.unsubscribes,
    }
