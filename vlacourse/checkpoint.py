"""Reading the course's safetensors files, with an error that names the file and the fix when one is
missing, truncated (an interrupted download or copy) or not a safetensors file at all (an HTML page, a
Git LFS pointer)."""

from __future__ import annotations

from pathlib import Path

from safetensors import SafetensorError, safe_open


def read_metadata(path: str | Path, remedy: str) -> dict[str, str]:
    """The metadata stored in the safetensors file at ``path``; ``remedy`` says how to make the file again."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return f.metadata() or {}
    except FileNotFoundError:
        raise FileNotFoundError(f"there is no file {path}: {remedy}") from None
    except SafetensorError as error:
        raise ValueError(f"{path} is not a readable safetensors file ({error}): it is truncated or corrupt. "
                         f"Delete it, then {remedy}") from None
