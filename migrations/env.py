"""Alembic environment: the gateway's metadata, on the connection the caller hands in."""

import os

from alembic import context
from sqlalchemy import create_engine

# Imported for their side effect: each registers its tables on the metadata.
import catalog.history
import catalog.models
import catalog.shadow_it.models
import catalog.usage_models  # noqa: F401
import gateway.audit.checkpoints
import gateway.audit.models
import gateway.audit.queries
import gateway.audit.retention
import gateway.audit.signing
import gateway.identity.models
import gateway.notifications.models
import gateway.oauth.models  # noqa: F401
import policies.consent  # noqa: F401
from gateway.db import Base

config = context.config
target_metadata = Base.metadata


def run_migrations(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    url = os.environ.get("GATEHOUSE_DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    with create_engine(url).connect() as own_connection:
        run_migrations(own_connection)
