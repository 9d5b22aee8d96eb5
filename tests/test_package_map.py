"""The package docstring's map (which notebook builds on which module) agrees with the package and the
notebooks: every module is on it once, every module a notebook imports is on it, and every module listed
under a notebook is imported by that notebook."""

import ast
import re

import vlacourse
from tests.conftest import NOTEBOOK_SOURCES, ROOT

EVERY_NOTEBOOK = "every notebook"


def package_map() -> dict[str, list[str]]:
    """{section ("every notebook", "00", ..., "tools"): [module, ...]} from the docstring's indented rows."""
    sections: dict[str, list[str]] = {}
    section = None
    for line in vlacourse.__doc__.splitlines():
        row = re.match(r"^    (\S.{0,14}|\s{15})\s(\S+)\s", line)
        if row is None:
            continue
        label = row.group(1).strip()
        if label:
            section = EVERY_NOTEBOOK if label == EVERY_NOTEBOOK else label.split()[0]
        sections.setdefault(section, []).append(row.group(2))
    return sections


# Subpackages the map lists whole, as one row; it lists every other subpackage module by module.
LISTED_WHOLE = {"sim", "exercises"}


def package_modules() -> set[str]:
    """The package's modules as the map names them: ``course``, ``lm.gpt``, ``sim``."""
    package = ROOT / "vlacourse"
    modules = {path.stem for path in package.glob("*.py") if path.stem != "__init__"}
    for init in package.glob("*/__init__.py"):
        subpackage = init.parent.name
        if subpackage in LISTED_WHOLE:
            modules.add(subpackage)
        else:
            modules |= {f"{subpackage}.{path.stem}" for path in init.parent.glob("*.py") if path.stem != "__init__"}
    return modules


def notebook_imports(source: str, mapped: set[str]) -> set[str]:
    """The package modules a notebook imports, named as the map names them (``sim.env`` is ``sim``)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("vlacourse"):
            # `from vlacourse.chunking import rtc` imports the module chunking.rtc
            submodules = {f"{node.module}.{a.name}" for a in node.names}
            names |= {m for m in submodules if m.removeprefix("vlacourse.") in mapped} or {node.module}
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names if a.name.startswith("vlacourse.")}
    modules = set()
    for name in names:
        module = name.removeprefix("vlacourse.")
        modules.add(module if module in mapped else module.split(".")[0])
    return modules


def test_every_module_of_the_package_is_on_the_map_once():
    listed = [module for modules in package_map().values() for module in modules]
    assert len(listed) == len(set(listed)), "a module is listed twice"
    # sim.cameras is named under notebook 02 as a part of sim, which the map lists whole under 03
    modules = {module for module in listed if "." not in module or module.split(".")[0] not in LISTED_WHOLE}
    assert modules == package_modules(), modules ^ package_modules()


def test_the_map_agrees_with_what_each_notebook_imports():
    sections = package_map()
    mapped = {module for modules in sections.values() for module in modules}
    assert len(NOTEBOOK_SOURCES) >= 9
    for path in NOTEBOOK_SOURCES:
        imported = notebook_imports(path.read_text(), mapped)
        assert imported <= mapped, f"{path.name} imports modules the map does not list: {imported - mapped}"
        own = set(sections.get(path.name[:2], []))
        assert own <= imported, f"the map lists {own - imported} under {path.name}, which does not import them"
        assert set(sections[EVERY_NOTEBOOK]) <= imported, path.name


def test_the_map_reader_sees_each_section():
    sections = package_map()
    assert sections["06"] == ["policies.flow"] and "sim.cameras" in sections["02"] and "cli" in sections["tools"]


def test_each_notebooks_first_text_names_the_modules_it_builds_on():
    sections = package_map()
    for path in NOTEBOOK_SOURCES:
        source = path.read_text()
        start = source.index("# %% [markdown]")
        first_text = source[start : source.index("\n# %%", start + 1)]
        named = set(re.findall(r"`vlacourse\.([a-z_.]+)`", first_text))
        assert named == set(sections.get(path.name[:2], [])), (path.name, named)


# The models and algorithms a learner reads: no widget or plotting library (those live in widgets/,
# sim.show and the notebooks).
MODEL_MODULES = (
    "lm/tokenizer",
    "lm/gpt",
    "lm/language_model",
    "training",
    "vlm/vision",
    "vlm/course_vlm",
    "vlm/pointing",
    "policies/policy",
    "policies/binning",
    "policies/vlm_prefix",
    "policies/binning_vla",
    "policies/recipe",
    "policies/fast",
    "policies/fast_vla",
    "policies/flow",
    "policies/insulation",
    "policies/compression",
    "chunking/rtc",
    "chunking/rtc_styles",
    "hierarchy/top_view",
    "hierarchy/primitives",
    "hierarchy/cliport",
    "hierarchy/planning",
    "sim/cameras",
    "sim/env",
    "sim/expert",
)


def runtime_imports(source: str) -> set[str]:
    """The modules a source imports when it runs (not those under ``if TYPE_CHECKING:``, for annotations)."""
    tree = ast.parse(source)
    for node in [n for n in ast.walk(tree) if isinstance(n, ast.If) and getattr(n.test, "id", None) == "TYPE_CHECKING"]:
        node.body = []
    return {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names} | {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }


def test_model_modules_import_no_widget_or_plotting_library():
    for module in MODEL_MODULES:
        imported = runtime_imports((ROOT / "vlacourse" / f"{module}.py").read_text())
        assert not {name.split(".")[0] for name in imported} & {"matplotlib", "ipywidgets", "plotly"}, module
        shown = {m for m in imported if m.startswith("vlacourse.widgets") or m.endswith(".show")}
        assert not shown, (module, shown)


def test_checkpoints_saved_before_the_layout_find_their_class():
    import importlib

    from safetensors import safe_open

    from vlacourse.policies.policy import MOVED_MODULES

    for old, new in MOVED_MODULES.items():
        assert not (ROOT / (old.replace(".", "/") + ".py")).exists(), f"{old} exists again: drop it from MOVED_MODULES"
        importlib.import_module(new)
    for path in (ROOT / "vlacourse" / "data").glob("*.safetensors"):
        with safe_open(str(path), framework="pt") as f:
            saved = (f.metadata() or {}).get("class")
        if saved is not None:
            module, name = saved.split(":")
            assert hasattr(importlib.import_module(MOVED_MODULES.get(module, module)), name), path.name
