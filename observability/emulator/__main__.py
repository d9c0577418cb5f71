"""``python -m observability.emulator --port P --data-dir D``: run the emulator in the foreground.

The same as ``composer-obs emulator`` without the CLI package, so tests can start the emulator
as a separate process with nothing but the interpreter.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from observability.emulator.server import serve


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m observability.emulator",
        description="Local, wire-compatible emulator of Cloud Logging (gRPC and REST).",
    )
    parser.add_argument("--port", type=int, default=8085, help="gRPC port (default 8085)")
    parser.add_argument("--http-port", type=int, help="REST port (default: --port + 1)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--data-dir", type=Path, required=True, help="where the data is kept")
    args = parser.parse_args(argv)
    serve(args.data_dir, args.host, args.port, args.http_port)


if __name__ == "__main__":
    main()
