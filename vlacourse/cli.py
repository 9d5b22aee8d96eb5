"""The package's commands (``python -m vlacourse.vlm.course_vlm train``, ``... policies.flow baseline``,
``... bench sim``): one way to declare them. Each subcommand that makes an artifact writes it to ``--out`` and
can be ``--quiet``; parsing the command line chooses MuJoCo's rendering backend, before anything the command
runs imports MuJoCo (it fixes its backend on first import, as a notebook's setup cell does)."""

from __future__ import annotations

import argparse
from pathlib import Path

REQUIRED = None  # ``writes=REQUIRED``: --out has no default, the caller must say where


class Commands:
    """``python -m <prog> <subcommand> [options]``: build with ``add``, then ``parse``."""

    def __init__(self, prog: str, description: str):
        self.parser = argparse.ArgumentParser(prog=prog, description=description)
        self.subcommands = self.parser.add_subparsers(dest="command", required=True)

    def add(self, name: str, help: str, writes: str | None | bool = False) -> argparse.ArgumentParser:
        """A subcommand; ``writes``: the file it writes by default (its ``--out``), ``REQUIRED`` for an
        ``--out`` without a default, ``False`` for a subcommand that writes nothing (and prints instead)."""
        command = self.subcommands.add_parser(name, help=help)
        if writes is not False:
            command.add_argument(
                "--out",
                type=Path,
                required=writes is REQUIRED,
                default=None if writes is REQUIRED else Path(writes),
                help="where to write it",
            )
            command.add_argument("--quiet", action="store_true", help="no progress bars")
        return command

    def parse(self, argv: list[str] | None = None) -> argparse.Namespace:
        args = self.parser.parse_args(argv)
        from vlacourse.notebook import configure_mujoco_gl

        configure_mujoco_gl()
        return args
