"""a change of a state version is announced on the gatehouse_changes channel

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 19:40:00.000000

On PostgreSQL every update of a state_versions row also runs pg_notify in the same
transaction: the notification is delivered when (and only if) the change commits, to
every gateway process listening, whichever writer made it (a request, the CLI, the
portal, a script). The payload is the version's name. SQLite has no such thing; there
the version poll alone carries changes to other processes.
"""
from alembic import op


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

NOTIFY_TRIGGER = """
CREATE FUNCTION gatehouse_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gatehouse_changes', NEW.name);
    RETURN NULL;
END $$;
CREATE TRIGGER state_versions_notify AFTER UPDATE ON state_versions
    FOR EACH ROW EXECUTE FUNCTION gatehouse_notify_change();
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute(NOTIFY_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute("DROP TRIGGER state_versions_notify ON state_versions")
    op.execute("DROP FUNCTION gatehouse_notify_change()")
