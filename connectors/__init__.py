"""Connector specs: each vendor's API described as data that the gateway enforces."""
