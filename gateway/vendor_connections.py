"""Connections to vendors: only to addresses the tool may reach, each under its deadline.

The host of a vendor URL is resolved when the connection is made, every address it
resolves to is checked (``gateway.addresses``), and the socket is connected to a checked
address: a name that pointed at the vendor when IT applied the catalog and points at
127.0.0.1 now (DNS rebinding) gains nothing. TLS still sends and verifies the name.
Every request registers its connection with the call's deadline (``gateway.deadline``).
"""

from __future__ import annotations

import ipaddress
import socket

from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, PoolManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import allowed_gai_family

from gateway.addresses import refusal_reason
from gateway.deadline import current_watch


class AddressRefused(Exception):
    """The tool's host resolves to an address the tool may not reach.

    Deliberately not an ``OSError``: urllib3 would take it for a failed connection and
    try again.
    """

    def __init__(self, host: str, address: str, reason: str) -> None:
        super().__init__(f"{host} resolves to {address} ({reason})")
        self.host = host
        self.address = address
        self.reason = reason


class _Vetted:
    """Mixed into urllib3's connections: connect only to checked addresses, under watch."""

    def __init__(self, *args, allow_private_network: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.allow_private_network = allow_private_network

    def _new_conn(self) -> socket.socket:
        *others, last = self._checked_addresses(self._dns_host.strip("[]"))
        for address in others:
            try:
                return self._connect_to(address)
            except (NewConnectionError, ConnectTimeoutError):
                continue  # the next address may answer, as socket.create_connection does
        return self._connect_to(last)

    def _connect_to(self, address: str) -> socket.socket:
        name = self._dns_host
        self._dns_host = address  # what urllib3 connects to; self.host stays the name
        try:
            return super()._new_conn()
        finally:
            self._dns_host = name

    def _checked_addresses(self, host: str) -> list[str]:
        try:
            found = socket.getaddrinfo(host, self.port, allowed_gai_family(), socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        addresses = list(dict.fromkeys(info[4][0] for info in found))
        for address in addresses:  # one bad address refuses all: DNS may be the attacker's
            reason = refusal_reason(ipaddress.ip_address(address), self.allow_private_network)
            if reason is not None:
                raise AddressRefused(host, address, reason)
        return addresses

    def connect(self) -> None:
        super().connect()
        self._watched()  # a deadline that passed while connecting cuts the new socket

    def request(self, *args, **kwargs) -> None:
        self._watched()  # a pooled connection, connected for an earlier call
        super().request(*args, **kwargs)

    def _watched(self) -> None:
        watch = current_watch()
        if watch is not None:
            watch.attach(self)


class _VettedHTTPConnection(_Vetted, HTTPConnection):
    pass


class _VettedHTTPSConnection(_Vetted, HTTPSConnection):
    pass


class _VettedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _VettedHTTPConnection


class _VettedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _VettedHTTPSConnection


class _VettedPoolManager(PoolManager):
    def __init__(self, *args, allow_private_network: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.pool_classes_by_scheme = {"http": _VettedHTTPPool, "https": _VettedHTTPSPool}
        self.allow_private_network = allow_private_network

    def _new_pool(self, scheme, host, port, request_context=None):
        pool = super()._new_pool(scheme, host, port, request_context)
        # Given to each connection the pool makes (a pool key cannot carry it).
        pool.conn_kw["allow_private_network"] = self.allow_private_network
        return pool


class VettedAdapter(HTTPAdapter):
    """A requests adapter whose connections reach only what the tool may reach."""

    def __init__(self, allow_private_network: bool, **kwargs) -> None:
        self.allow_private_network = allow_private_network  # read by init_poolmanager
        super().__init__(**kwargs)

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)  # keeps the sizes
        self.poolmanager = _VettedPoolManager(
            num_pools=connections,
            maxsize=maxsize,
            block=block,
            allow_private_network=self.allow_private_network,
            **pool_kwargs,
        )
