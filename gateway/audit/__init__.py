"""The exchange log: every call through the proxy, recorded before it is forwarded."""
