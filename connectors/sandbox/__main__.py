"""Serve the sandbox vendors: ``python -m connectors.sandbox --port 9001``."""

from __future__ import annotations

import argparse

from werkzeug.serving import make_server

from connectors.sandbox import create_sandbox_app, vendor_modules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9001)
    args = parser.parse_args()
    server = make_server(args.host, args.port, create_sandbox_app(), threaded=True)
    vendors = ", ".join(sorted(vendor_modules()))
    print(f"sandbox vendors on http://{args.host}:{args.port}: {vendors}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
