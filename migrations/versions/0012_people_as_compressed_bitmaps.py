"""people as compressed bitmaps

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 17:40:00.000000

The exact distinct-people count of a usage report read a row per (day, person, tool,
department, app): over a month of a million records, a million rows, and half a second
per report. Each person now gets a small number (usage_person_ids) and each day, tool,
department and app one compressed bitmap of the numbers sent (usage_people_bitmaps):
a report unites a few thousand bitmaps instead. The rows already folded in are carried
over as they are (the aggregates are never rebuilt from the log, whose pruned days are
gone while their counts stay), and back again on downgrade.
"""

from collections import defaultdict

from alembic import op
import sqlalchemy as sa
from pyroaring import BitMap


revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_KEY = ("day", "tool", "department", "app")
_OLD_INDEXES = (
    ("ix_usage_people_tool_person", ["tool", "person", "day"]),
    ("ix_usage_people_department_person", ["department", "person", "day"]),
    ("ix_usage_people_app_person", ["app", "person", "day"]),
    ("ix_usage_people_person", ["person", "day"]),
)
_BATCH = 5_000


def _keyed(*more):
    return [
        *more,
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("tool", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("app", sa.String(length=64), nullable=False),
    ]


def upgrade() -> None:
    ids = op.create_table(
        "usage_person_ids",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person", sa.BigInteger(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_person_ids")),
        sa.UniqueConstraint("person", name=op.f("uq_usage_person_ids_person")),
    )
    op.create_index("ix_usage_person_ids_last_day", "usage_person_ids", ["last_day"], unique=False)
    bitmaps = op.create_table(
        "usage_people_bitmaps",
        *_keyed(sa.Column("people", sa.LargeBinary(), nullable=False)),
        sa.PrimaryKeyConstraint(*_KEY, name=op.f("pk_usage_people_bitmaps")),
    )
    _carry_over(ids, bitmaps)
    for name, _ in _OLD_INDEXES:
        op.drop_index(name, table_name="usage_people")
    op.drop_table("usage_people")


def _carry_over(ids, bitmaps) -> None:
    """Numbers the people of usage_people, then writes each key's bitmap of them."""
    connection = op.get_bind()
    connection.execute(
        sa.text(
            "INSERT INTO usage_person_ids (person, last_day) "
            "SELECT person, max(day) FROM usage_people GROUP BY person ORDER BY person"
        )
    )
    rows = connection.execute(
        sa.text(
            "SELECT p.day, p.tool, p.department, p.app, i.id FROM usage_people p "
            "JOIN usage_person_ids i ON i.person = p.person"
        ).columns(day=sa.Date())
    )
    people = defaultdict(BitMap)
    for day, tool, department, app, number in rows:
        people[(day, tool, department, app)].add(number)
    written = []
    for key, bitmap in people.items():
        bitmap.run_optimize()
        written.append({**dict(zip(_KEY, key)), "people": bitmap.serialize()})
    for start in range(0, len(written), _BATCH):
        connection.execute(bitmaps.insert(), written[start : start + _BATCH])


def downgrade() -> None:
    people = op.create_table(
        "usage_people",
        *_keyed(sa.Column("person", sa.BigInteger(), nullable=False)),
        sa.PrimaryKeyConstraint(
            "day", "person", "tool", "department", "app", name=op.f("pk_usage_people")
        ),
    )
    for name, columns in _OLD_INDEXES:
        op.create_index(name, "usage_people", columns, unique=False)
    connection = op.get_bind()
    numbers = dict(connection.execute(sa.text("SELECT id, person FROM usage_person_ids")).all())
    rows = []
    stored = sa.text("SELECT day, tool, department, app, people FROM usage_people_bitmaps")
    stored = stored.columns(day=sa.Date())
    for day, tool, department, app, blob in connection.execute(stored):
        key = {"day": day, "tool": tool, "department": department, "app": app}
        rows.extend({**key, "person": numbers[n]} for n in BitMap.deserialize(bytes(blob)))
    for start in range(0, len(rows), _BATCH):
        connection.execute(people.insert(), rows[start : start + _BATCH])
    op.drop_table("usage_people_bitmaps")
    op.drop_index("ix_usage_person_ids_last_day", table_name="usage_person_ids")
    op.drop_table("usage_person_ids")
