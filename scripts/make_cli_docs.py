"""Write docs/cli.md from the parser's own --help text (a test checks it is current).

Run: .venv/bin/python scripts/make_cli_docs.py
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from whatworks.cli import build_parser

DOC = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def render() -> str:
    os.environ["COLUMNS"] = "100"  # stable wrapping
    parser = build_parser()
    parts = ["# The `whatworks` command\n",
             "Generated from the command's own `--help` by `scripts/make_cli_docs.py`; "
             "a test fails when it drifts.\n",
             "```\n" + parser.format_help().rstrip() + "\n```\n"]
    _subcommands(parser, "whatworks", parts)
    return "\n".join(parts)


def _subcommands(parser: argparse.ArgumentParser, prefix: str, parts: list[str]) -> None:
    """Every sub-command's help, recursing into nested ones (``whatworks places funnel``)."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for sub in subs:
        for name, p in sub.choices.items():
            if name == "manage":
                continue  # passes its arguments to Django's own commands
            parts.append(f"{'#' * min(prefix.count(' ') + 2, 4)} {prefix} {name}\n")
            parts.append("```\n" + p.format_help().rstrip() + "\n```\n")
            _subcommands(p, f"{prefix} {name}", parts)


if __name__ == "__main__":
    DOC.write_text(render(), encoding="utf-8")
    print(f"wrote {DOC}")
