"""Reading the course's shipped files: safetensors checkpoints and JSON recordings, with an error that
names the file and the fix when one is missing, truncated (an interrupted download or copy) or not what
it should be (an HTML page, a Git LFS pointer); and keeping the finished parts of a long recording."""

from __future__ import annotations

import json
from importlib import resources
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
        raise ValueError(
            f"{path} is not a readable safetensors file ({error}): it is truncated or corrupt. Delete it, then {remedy}"
        ) from None


def metrics_of(checkpoint: str) -> dict:
    """The ``metrics`` a shipped checkpoint recorded, read from its header only (no weights are loaded)."""
    with resources.as_file(resources.files("vlacourse") / "data" / checkpoint) as path:
        return json.loads(read_metadata(path, "run `make reproduce` for it")["metrics"])


def read_recording(path: str | Path | None, shipped: str, command: str) -> dict:
    """The JSON recording at ``path``; without one, the file ``shipped`` in the package's data, which
    ``command`` writes."""
    if path is None:
        with resources.as_file(resources.files("vlacourse") / "data" / shipped) as file:
            if not file.exists():  # as ``policy.load_policy`` says of a checkpoint
                raise FileNotFoundError(
                    f"this version of the course ships no {shipped} yet: make one with "
                    f"`{command} --out {shipped}` and pass its path"
                )
            return read_recording(file, shipped, command)
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"there is no file {path}: make it with `{command} --out {path}`") from None
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path} is not a readable JSON recording ({error}): it is truncated or corrupt. "
            f"Delete it, then make it again with `{command} --out {path}`"
        ) from None


class KeptParts:
    """The finished parts of a long recording (a sweep's cells, a curve's runs), one JSON file each in a
    folder, each beside what made it: a recording of hours can be stopped and resumed, and a part made by
    another recipe is refused rather than mixed in. ``folder`` None keeps nothing."""

    def __init__(self, folder: str | Path | None):
        self.folder = None if folder is None else Path(folder)

    def read(self, name: str, made_by: dict) -> dict | None:
        """The part kept as ``name``, if it is there (None if not), after checking ``made_by`` made it."""
        path = None if self.folder is None else self.folder / f"{name}.json"
        if path is None or not path.exists():
            return None
        part = json.loads(path.read_text())
        if part["made_by"] != json.loads(json.dumps(made_by)):  # as read back: a tuple comes back a list
            raise ValueError(
                f"{path} was made by another recipe: give another folder, or delete this one to start again"
            )
        return part["result"]

    def write(self, name: str, made_by: dict, result: dict) -> None:
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / f"{name}.json").write_text(json.dumps({"made_by": made_by, "result": result}))
