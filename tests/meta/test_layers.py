"""The layer rules of DESIGN.md §1-2, checked on the source with ``ast`` (nothing is
imported, so a violation cannot hide behind an import error or a lazy import).

* Import direction: ``core`` -> nothing outside ``core``; ``store`` -> ``core``;
  ``protocols`` -> ``core`` (never ``store``, ``server``, ``cli``); ``runtime`` never
  ``store``; ``console`` -> ``core``. ``server`` wires them and ``cli`` may import anything.
* ``bench`` is a client of any SQS endpoint: it imports nothing of ekiden but itself, and
  of what is not the standard library only uvloop, httptools and orjson.
* Time is injected (Rule 4) and configuration is read at the edge (Rule 8): ``core`` and
  ``store`` neither read the wall clock nor the environment (the system clock in
  ``ekiden/core/clock.py`` is the one exception), and only ``ekiden.cli`` (and the
  handler process, which sets its own environment) reads ``os.environ``.
* One concept per module, modules under 600 lines (Rule 9).
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "ekiden"
MAX_MODULE_LINES = 600

# layer -> the ekiden layers (dotted prefixes) its modules may import. None: anything.
ALLOWED_IMPORTS: dict[str, tuple[str, ...] | None] = {
    "ekiden.core": ("ekiden.core",),
    "ekiden.store": ("ekiden.core", "ekiden.store"),
    "ekiden.protocols": ("ekiden.core", "ekiden.protocols"),
    "ekiden.console": ("ekiden.core", "ekiden.console"),
    "ekiden.runtime": None,  # checked by FORBIDDEN_IMPORTS below
    "ekiden.server": None,
    "ekiden.cli": None,
    "ekiden.bench": ("ekiden.bench",),
    "ekiden.config": ("ekiden.config",),
    "ekiden.__init__": (),
    "ekiden.__main__": None,
}
# layer -> ekiden layers its modules must never import, whatever ALLOWED_IMPORTS says.
FORBIDDEN_IMPORTS: dict[str, tuple[str, ...]] = {
    "ekiden.runtime": ("ekiden.store", "ekiden.server", "ekiden.cli", "ekiden.console"),
    "ekiden.protocols": ("ekiden.store", "ekiden.server", "ekiden.cli"),
}
# layer -> the only packages outside the standard library and ekiden it may import.
THIRD_PARTY_ALLOWED: dict[str, tuple[str, ...]] = {
    "ekiden.bench": ("uvloop", "httptools", "orjson"),
}
CLOCK_FREE_LAYERS = ("ekiden.core", "ekiden.store")
CLOCK_EXCEPTION = ("ekiden.core.clock", "SystemClock")  # module, class allowed to read it
# The handler process is the other edge: it runs in its own process and sets the
# function's variables into its own environment before importing the handler.
ENVIRONMENT_READERS = ("ekiden.cli", "ekiden.runtime.handler_process")


@dataclass(frozen=True)
class Module:
    name: str  # dotted, e.g. ekiden.core.errors (packages end in .__init__)
    path: Path
    tree: ast.Module
    lines: int

    @property
    def package(self) -> str:
        """The package that relative imports are resolved against."""
        return self.name.rsplit(".", 1)[0]

    @property
    def layer(self) -> str:
        parts = self.name.split(".")
        return ".".join(parts[:2])


def _load_modules() -> list[Module]:
    modules = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(SRC).with_suffix("")
        text = path.read_text(encoding="utf-8")
        modules.append(
            Module(
                ".".join(relative.parts),
                path,
                ast.parse(text, filename=str(path)),
                len(text.splitlines()),
            )
        )
    return modules


MODULES = _load_modules()
IDS = [m.name for m in MODULES]


def layer_of(dotted: str) -> str:
    return ".".join(dotted.split(".")[:2])


def imported_names(module: Module) -> list[tuple[int, str]]:
    """(line, absolute dotted name) of every import of ``module``, at any depth (also in
    functions and under ``if TYPE_CHECKING``); ``from x import y`` yields ``x.y``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = module.package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names)
    return found


def ekiden_imports(module: Module) -> list[tuple[int, str]]:
    return [(line, name) for line, name in imported_names(module) if name.split(".")[0] == "ekiden"]


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


# --- the rules know the whole tree ----------------------------------------------------


def test_the_source_tree_is_found() -> None:
    names = set(IDS)
    assert {"ekiden.core.errors", "ekiden.protocols.sqs.frontend", "ekiden.server.app"} <= names
    assert len(MODULES) > 20


def test_every_top_level_part_of_ekiden_has_a_layer_rule() -> None:
    # A new package must be given its place in the layers on purpose.
    layers = {m.layer for m in MODULES}
    assert layers <= set(ALLOWED_IMPORTS), sorted(layers - set(ALLOWED_IMPORTS))


def test_relative_imports_resolve_like_absolute_ones() -> None:
    tree = ast.parse("from . import errors\nfrom ..store import base\nfrom .x import y\n")
    fake = Module("ekiden.core.services.__init__", Path("x"), tree, 3)
    assert [n for _, n in imported_names(fake)] == [
        "ekiden.core.services.errors",
        "ekiden.core.store.base",
        "ekiden.core.services.x.y",
    ]
    module = Module("ekiden.core.services.queues", Path("x"), tree, 3)
    assert [n for _, n in imported_names(module)] == [
        "ekiden.core.services.errors",
        "ekiden.core.store.base",
        "ekiden.core.services.x.y",
    ]


# --- import direction -----------------------------------------------------------------


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_modules_import_only_from_the_layers_below_them(module: Module) -> None:
    allowed = ALLOWED_IMPORTS[module.layer]
    forbidden = FORBIDDEN_IMPORTS.get(module.layer, ())
    wrong = [
        f"{module.path.relative_to(SRC)}:{line} imports {name}"
        for line, name in ekiden_imports(module)
        if (allowed is not None and not any(_within(name, a) for a in allowed))
        or any(_within(name, f) for f in forbidden)
    ]
    assert not wrong, "\n".join(wrong)


def test_the_import_rule_catches_a_protocol_module_importing_the_store() -> None:
    tree = ast.parse("from ekiden.store.sqlite.store import SqliteStore\n")
    module = Module("ekiden.protocols.sqs.bad", Path("bad.py"), tree, 1)
    assert ekiden_imports(module) == [(1, "ekiden.store.sqlite.store.SqliteStore")]
    allowed = ALLOWED_IMPORTS[module.layer]
    assert allowed is not None
    assert not any(_within("ekiden.store.sqlite.store.SqliteStore", a) for a in allowed)


def third_party_imports(module: Module) -> list[tuple[int, str]]:
    """(line, name) of the imports that are neither the standard library nor ekiden."""
    return [
        (line, name)
        for line, name in imported_names(module)
        if name.split(".")[0] not in sys.stdlib_module_names
        and name.split(".")[0] not in ("ekiden", "__future__")
    ]


@pytest.mark.parametrize(
    "module", [m for m in MODULES if m.layer in THIRD_PARTY_ALLOWED], ids=lambda m: m.name
)
def test_client_layers_import_only_the_standard_library_and_their_few_libraries(
    module: Module,
) -> None:
    allowed = THIRD_PARTY_ALLOWED[module.layer]
    wrong = [
        f"{module.path.relative_to(SRC)}:{line} imports {name}"
        for line, name in third_party_imports(module)
        if name.split(".")[0] not in allowed
    ]
    assert not wrong, "\n".join(wrong)


def test_the_third_party_rule_catches_a_bench_module_importing_boto3() -> None:
    tree = ast.parse("import asyncio\nimport orjson\nfrom botocore.auth import SigV4Auth\n")
    module = Module("ekiden.bench.bad", Path("bad.py"), tree, 3)
    assert third_party_imports(module) == [(2, "orjson"), (3, "botocore.auth.SigV4Auth")]


# --- time and environment -------------------------------------------------------------

_CLOCK_CALLS = {("time", "time"), ("time", "time_ns")}
_DATETIME_CALLS = {"now", "utcnow", "today"}
_DATETIME_NAMES = {"datetime", "date"}


def _exempt_nodes(module: Module) -> set[int]:
    """ids of the nodes inside the class allowed to read the clock."""
    if module.name != CLOCK_EXCEPTION[0]:
        return set()
    exempt: set[int] = set()
    for node in ast.walk(module.tree):
        if isinstance(node, ast.ClassDef) and node.name == CLOCK_EXCEPTION[1]:
            exempt.update(id(inner) for inner in ast.walk(node))
    return exempt


def _dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a chain of names and attributes, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def clock_reads(module: Module) -> list[str]:
    """Reads of the wall clock: ``time.time()``/``time_ns()``, ``datetime.now()`` and
    friends (through any import alias), and ``from time import time``."""
    aliases: dict[str, str] = {}  # local name -> module or object it stands for
    found: list[str] = []
    exempt = _exempt_nodes(module)
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module in ("time", "datetime"):
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
                if (node.module, alias.name) in _CLOCK_CALLS:
                    found.append(f"line {node.lineno}: from time import {alias.name}")
    for node in ast.walk(module.tree):
        if id(node) in exempt or not isinstance(node, ast.Attribute):
            continue
        dotted = _dotted(node)
        if dotted is None:
            continue
        head, _, rest = dotted.partition(".")
        resolved = f"{aliases.get(head, head)}.{rest}" if rest else aliases.get(head, head)
        parts = resolved.split(".")
        if (tuple(parts[-2:]) in _CLOCK_CALLS and parts[0] == "time") or (
            parts[-1] in _DATETIME_CALLS
            and len(parts) >= 2
            and parts[-2] in _DATETIME_NAMES
            and parts[0] == "datetime"
        ):
            found.append(f"line {node.lineno}: {dotted}")
    return found


def environment_reads(module: Module) -> list[str]:
    """``os.environ``, ``os.getenv``, ``os.environb`` (any alias), ``from os import ...``."""
    names = {"environ", "environb", "getenv", "getenvb"}
    aliases = {"os"}
    found: list[str] = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            aliases.update(a.asname or a.name for a in node.names if a.name == "os")
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            found.extend(
                f"line {node.lineno}: from os import {a.name}"
                for a in node.names
                if a.name in names
            )
    for node in ast.walk(module.tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in names
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
        ):
            found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    return found


@pytest.mark.parametrize(
    "module", [m for m in MODULES if m.layer in CLOCK_FREE_LAYERS], ids=lambda m: m.name
)
def test_core_and_store_never_read_the_wall_clock(module: Module) -> None:
    assert clock_reads(module) == [], module.path


@pytest.mark.parametrize(
    "module",
    [m for m in MODULES if not m.name.startswith(ENVIRONMENT_READERS)],
    ids=lambda m: m.name,
)
def test_only_the_cli_reads_the_environment(module: Module) -> None:
    assert environment_reads(module) == [], module.path


def test_the_system_clock_is_the_one_allowed_reader_of_the_clock() -> None:
    (clock,) = [m for m in MODULES if m.name == CLOCK_EXCEPTION[0]]
    assert clock_reads(clock) == []
    unexempted = Module("ekiden.core.other", clock.path, clock.tree, clock.lines)
    assert clock_reads(unexempted), "the clock checker no longer sees SystemClock's read"


@pytest.mark.parametrize(
    "source",
    [
        "import time\nnow = time.time()\n",
        "import time as t\nnow = t.time_ns()\n",
        "from time import time\n",
        "import datetime\nnow = datetime.datetime.now()\n",
        "from datetime import datetime\nnow = datetime.utcnow()\n",
        "from datetime import date as d\nnow = d.today()\n",
    ],
)
def test_the_clock_checker_catches_every_spelling(source: str) -> None:
    module = Module("ekiden.core.bad", Path("bad.py"), ast.parse(source), 2)
    assert clock_reads(module)


@pytest.mark.parametrize(
    "source",
    [
        "import os\nport = os.environ['PORT']\n",
        "import os\nport = os.getenv('PORT')\n",
        "import os as o\nport = o.environ.get('PORT')\n",
        "from os import environ\n",
    ],
)
def test_the_environment_checker_catches_every_spelling(source: str) -> None:
    module = Module("ekiden.core.bad", Path("bad.py"), ast.parse(source), 2)
    assert environment_reads(module)


def test_sleeping_and_monotonic_durations_are_not_clock_reads() -> None:
    source = "import time\ntime.sleep(0.1)\nstart = time.monotonic()\n"
    module = Module("ekiden.store.ok", Path("ok.py"), ast.parse(source), 3)
    assert clock_reads(module) == []


# --- size -----------------------------------------------------------------------------


def test_every_module_stays_under_600_lines() -> None:
    too_long = [
        f"{m.path.relative_to(SRC)}: {m.lines} lines"
        for m in MODULES
        if m.lines >= MAX_MODULE_LINES
    ]
    assert not too_long, "split these modules (DESIGN.md Rule 9):\n" + "\n".join(too_long)
