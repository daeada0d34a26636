"""The import graph of sobot's own packages, read from their source, and what DESIGN.md's layout allows of it."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# The layout, top to bottom: a package may import its own modules and those of any package below it.
# The channels share a tier and do not import one another.
TIERS: tuple[tuple[str, ...], ...] = (
    ("sobot",),
    ("bot", "mail", "web"),
    ("scheduler",),
    ("handlers",),
    ("storage",),
    ("rules",),
)
PACKAGES = tuple(package for tier in TIERS for package in tier)
CHANNELS = ("bot", "mail", "web")

BELOW_THE_CHANNELS = "nothing below the channels imports the Agents SDK, a mail library or a web framework"
CHANNEL_LIBRARIES = frozenset({
    "aiohttp", "microsoft_agents", "msal", "exchangelib", "mailparser_reply", "aiosmtpd", "email", "mailbox",
    "imaplib", "smtplib", "poplib",
})  # fmt: skip
# "Nothing in rules/ does I/O": no database, network, process, clock job or metrics library either.
IO_LIBRARIES = CHANNEL_LIBRARIES | {
    "sqlalchemy", "alembic", "asyncpg", "aiosqlite", "sqlite3", "apscheduler", "asyncio", "socket", "ssl", "http",
    "urllib", "subprocess", "prometheus_client", "uvloop",
}  # fmt: skip
FORBIDDEN: Mapping[str, frozenset[str]] = {
    "scheduler": CHANNEL_LIBRARIES,
    "handlers": CHANNEL_LIBRARIES,
    "storage": CHANNEL_LIBRARIES,
    "rules": frozenset(IO_LIBRARIES),
}


@dataclass(frozen=True)
class Import:
    """One import statement's target, where it was written."""

    module: str  # the importing module, e.g. handlers.orders
    path: Path
    line: int
    target: str  # one of ours (a module) or a library's top-level name

    def where(self, root: Path) -> str:
        return f"{self.path.relative_to(root)}:{self.line}"


def modules(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """Every module of these packages under `root`, by dotted name (a package by its own name)."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if "migrations" in parts:  # Alembic's revision scripts are run by Alembic, not imported
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _ours(name: str, known: Mapping[str, Path]) -> str | None:
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def imports(root: Path, known: Mapping[str, Path]) -> list[Import]:
    """Every import in these modules, at any depth (in functions and under TYPE_CHECKING too)."""
    found: list[Import] = []
    for module, path in known.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parent, *([node.module] if node.module else [])])
                # `from pkg import name` imports the module pkg.name where there is one, else pkg itself.
                names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
            for name in names:
                if name == "__future__":
                    continue
                target = _ours(name, known) or name.split(".")[0]
                edge = Import(module, path, getattr(node, "lineno", 0), target)
                if target != module and edge not in found:
                    found.append(edge)
    return found


def cycles(found: Sequence[Import], known: Mapping[str, Path]) -> list[list[Import]]:
    """Each set of modules that import one another round a circle, as one such circle of imports."""
    edges: dict[str, dict[str, Import]] = {m: {} for m in known}
    for edge in found:
        if edge.target in known:
            edges[edge.module].setdefault(edge.target, edge)
    # Tarjan's strongly connected components, without recursion.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(edges[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(edges[successor])))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
    return [_circle(component, edges) for component in components]


def _circle(component: list[str], edges: Mapping[str, Mapping[str, Import]]) -> list[Import]:
    """A shortest way round from the component's first module back to itself, staying inside the component."""
    inside = set(component)
    start = component[0]
    came: dict[str, Import] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target, edge in edges[node].items():
                if target == start:
                    path = [edge]
                    while path[0].module != start:
                        path.insert(0, came[path[0].module])
                    return path
                if target in inside and target not in came:
                    came[target] = edge
                    following.append(target)
        frontier = following
    raise AssertionError(f"{component} is not a cycle")


def tier(package: str) -> int:
    return next(n for n, members in enumerate(TIERS) if package in members)


def layer_problems(found: Sequence[Import], known: Mapping[str, Path], root: Path) -> list[str]:
    """Each import that runs against the layout, as a sentence naming the file, the line and the import."""
    problems = []
    for edge in found:
        package = edge.module.split(".")[0]
        if edge.target in known:
            imported = edge.target.split(".")[0]
            if imported == package:
                continue
            if package in CHANNELS and imported in CHANNELS:
                problems.append(f"{edge.where(root)}: {edge.module} imports {edge.target}, but one channel does not "
                                f"import another ({package}/ and {imported}/ are both channels)")  # fmt: skip
            elif tier(imported) <= tier(package):
                below = [f"{p}/" for p in PACKAGES if tier(p) > tier(package)]
                rule = f"may import only the layers below it ({', '.join(below)})" if below else "is the bottom layer"
                problems.append(f"{edge.where(root)}: {edge.module} imports {edge.target}, but {package}/ {rule}")
        elif edge.target in FORBIDDEN.get(package, ()):
            why = "rules/ does no I/O" if package == "rules" else BELOW_THE_CHANNELS
            problems.append(f"{edge.where(root)}: {edge.module} imports {edge.target}, which {package}/ may not: {why}")
    return sorted(problems)


def describe(circle: Sequence[Import], root: Path) -> str:
    names = " -> ".join([circle[0].module, *(edge.target for edge in circle)])
    return f"import cycle {names} ({'; '.join(f'{e.where(root)} imports {e.target}' for e in circle)})"
