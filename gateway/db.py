"""The database: declarative base, engine, one session per request, change versions.

Services receive a session and never commit; the view or CLI command that owns the
unit of work commits once. Models that feed an in-memory snapshot name it in
``__snapshot__``; any flush that changes them bumps that snapshot's row in
``state_versions``, which is how every instance learns that it must rebuild.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from flask import Flask, current_app, g
from sqlalchemy import (
    BigInteger,
    DateTime,
    Enum,
    Integer,
    MetaData,
    String,
    create_engine,
    event,
    select,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine, Row, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.sql.base import Executable
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: A 64-bit key that SQLite still treats as its auto-incrementing rowid.
BigIntKey = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def enum_by_value(enum_class: type[enum.Enum]) -> Enum:
    """A string column holding the enum's values (not its member names)."""
    return Enum(
        enum_class,
        values_callable=lambda members: [member.value for member in members],
        native_enum=False,
        validate_strings=True,
        length=max(20, *(len(member.value) for member in enum_class)),
    )


def utcnow() -> datetime:
    return datetime.now(UTC)


class StateVersion(Base):
    """A counter per in-memory snapshot; bumped by every change to its models."""

    __tablename__ = "state_versions"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


@event.listens_for(Session, "before_flush")
def _bump_snapshot_versions(session: Session, flush_context, instances) -> None:
    changed = [*session.new, *session.deleted]
    changed += [obj for obj in session.dirty if session.is_modified(obj)]
    names = {getattr(obj, "__snapshot__", None) for obj in changed} - {None}
    for name in sorted(names):
        statement = update(StateVersion).where(StateVersion.name == name)
        result = session.connection().execute(statement.values(version=StateVersion.version + 1))
        if result.rowcount != 1:
            raise RuntimeError(f"state_versions has no row {name!r}: run `gatehouse db upgrade`")


def read_versions(session: Session) -> dict[str, int]:
    rows = session.execute(select(StateVersion.name, StateVersion.version))
    return {name: version for name, version in rows}


#: What the database raises when it cannot be reached in time, as opposed to refusing
#: what it was sent: connection refused or lost, a timeout, a lock not had, no pooled
#: connection free. A request answers 503 ``database-unavailable`` for these.
UNAVAILABLE = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    sa_exc.DisconnectionError,
)
#: Characters no text column can hold: PostgreSQL's text takes no NUL, and UTF-8 cannot
#: spell a lone surrogate.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
#: The range of a BigInteger column (ids, sequence numbers): signed 64 bits in both databases.
BIGINT_RANGE = (-(2**63), 2**63 - 1)
#: Seconds to wait for the database (``GATEHOUSE_DATABASE_TIMEOUT``), unless told.
DEFAULT_TIMEOUT = 3.0
#: libpq waits at least this long for a connection, whatever it is told.
_LIBPQ_SHORTEST_CONNECT = 2


def make_engine(
    url: str,
    pool_size: int = 10,
    timeout: float = DEFAULT_TIMEOUT,
    statement_timeout: float | None = None,
    reads: bool = False,
) -> Engine:
    """``timeout`` bounds the wait for a connection (to connect; for a free one of the pool;
    SQLite: for a lock); ``statement_timeout`` (PostgreSQL), for each statement. With
    ``reads``, for :class:`Reads`: each statement commits by itself (autocommit) and a
    pooled connection is not pinged when taken (a dropped one is found by the read)."""
    isolation = {"isolation_level": "AUTOCOMMIT"} if reads else {}
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": timeout}, pool_timeout=timeout, **isolation
        )
        event.listen(engine, "connect", _tune_sqlite)
        return engine
    connect_args = {"connect_timeout": max(math.ceil(timeout), _LIBPQ_SHORTEST_CONNECT)}
    if statement_timeout is not None:  # added to the URL's own options, if any
        given = make_url(url).query.get("options", "")
        limit = f"-c statement_timeout={round(statement_timeout * 1000)}"
        connect_args["options"] = f"{given} {limit}".strip()
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=not reads,
        pool_timeout=timeout,
        connect_args=connect_args,
        **isolation,
    )


def _tune_sqlite(dbapi_connection, connection_record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Reads:
    """Single statements outside any transaction, for what every proxied call reads
    (consent): one round trip each on PostgreSQL, where a request's session takes three
    (the pool's ping, the query, the rollback when the request ends). A connection the
    server dropped meanwhile (a restart, ``pg_terminate_backend``) fails the statement
    before it ran, and the pool is renewed: the statement is sent once more."""

    def __init__(self, engine: Engine) -> None:
        """``engine``: from :func:`make_engine` with ``reads``."""
        self.engine = engine

    def get_bind(self) -> Engine:
        return self.engine

    def execute(self, statement: Executable, parameters: dict | None = None) -> list[Row]:
        """The rows of ``statement`` (as ``Session.execute`` would give them)."""
        for attempt in (1, 2):
            try:
                with self.engine.connect() as connection:
                    return connection.execute(statement, parameters).all()
            except sa_exc.DBAPIError as exc:
                if attempt == 2 or not exc.connection_invalidated:
                    raise
        raise AssertionError("unreachable")

    def driver_rows(self, sql: str, parameters: dict) -> list[tuple]:
        """PostgreSQL: the rows of ``sql`` (psycopg's ``%(name)s`` parameters; values as
        psycopg gives them) sent on the pooled psycopg connection itself, as a statement
        prepared once per connection: SQLAlchemy's work around a statement cost more CPU
        than the indexed query it sends. Errors are SQLAlchemy's, as from :meth:`execute`;
        a broken connection renews the pool, and the statement is sent once more."""
        for attempt in (1, 2):
            try:
                pooled = self.engine.raw_connection()
            except psycopg.Error as exc:
                raise self._wrapped(sql, parameters, exc, False) from exc
            try:
                return pooled.driver_connection.execute(sql, parameters, prepare=True).fetchall()
            except psycopg.Error as exc:
                broken = pooled.driver_connection.broken
                if broken:
                    pooled.invalidate()
                    self.engine.dispose()
                if attempt == 2 or not broken:
                    raise self._wrapped(sql, parameters, exc, broken) from exc
            finally:
                pooled.close()
        raise AssertionError("unreachable")

    def _wrapped(self, sql: str, parameters: dict, exc: psycopg.Error, broken: bool):
        """``exc`` as SQLAlchemy raises it (``OperationalError`` for a timeout, say)."""
        return sa_exc.DBAPIError.instance(
            sql,
            parameters,
            exc,
            psycopg.Error,
            connection_invalidated=broken,
            dialect=self.engine.dialect,
        )


@dataclass(frozen=True)
class Connection:
    """One app's engine and session factory, and its reads outside transactions."""

    engine: Engine
    sessions: sessionmaker[Session]
    reads: Reads

    def dispose(self) -> None:
        """Closes the pooled connections of both engines."""
        self.engine.dispose()
        self.reads.engine.dispose()


class Database:
    """Flask extension: each app's engine and session factory, and the request's session."""

    def init_app(self, app: Flask) -> None:
        config = app.extensions["gatehouse.config"]
        if config.database_url.startswith("sqlite:///"):
            config.instance_path.mkdir(parents=True, exist_ok=True)
        settings = {
            "timeout": config.database_timeout,
            "statement_timeout": config.database_timeout if config.limit_statements else None,
        }
        engine = make_engine(config.database_url, **settings)
        app.extensions["gatehouse.db"] = Connection(
            engine,
            sessionmaker(engine, expire_on_commit=False),
            Reads(make_engine(config.database_url, reads=True, **settings)),
        )
        app.teardown_appcontext(self._close_session)

    @staticmethod
    def of(app: Flask) -> Connection:
        return app.extensions["gatehouse.db"]

    @property
    def session(self) -> Session:
        """The session of the current request or CLI command, opened on first use."""
        if "db_session" not in g:
            g.db_session = self.of(current_app).sessions()
        return g.db_session

    def _close_session(self, exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


db = Database()
