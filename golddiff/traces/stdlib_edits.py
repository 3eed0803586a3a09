"""Edit requests on Python standard-library functions that state the change, the way users ask for one.

`golddiff.traces.stdlib_bugs` breaks a function and asks for the fix with a bug report; a model must
find the bug. Users often say exactly what they want instead, and a small model can learn to do that in
minutes, so this module makes those requests on the same small stdlib functions (`functions_in`):

- `stated_fix`      a SWE-smith mutation of one line, with the fix spelled out:
                    "In `m.f`, change `return s != RETRY` to `return s == RETRY`."
- `rename`          a parameter or local variable renamed on every line it appears:
                    "In `m.f`, rename the variable `s` to `result`."
- `change_default`  "In `m.f`, change the default of `width` to 140."
- `none_guard`      "Make `m.f` return None right away when `x` is None." (the gold is the two lines
                    `if x is None:` / `return None` before the first statement, after any docstring)

The base file is the function (with its class line for a method), the gold its edited version, as in
`stdlib_bugs` (`function_episode`); the session is the function, so one function's tasks share a split.

    from golddiff.traces.stdlib_edits import mine
    episodes = mine(n=300, seed=0, exclude={"email/utils.py:parseaddr"})   # relpath:qualname to skip

Pure Python (ast); CPU only; reads files, writes nothing. Deterministic for a seed and a Python version.
"""

from __future__ import annotations

import ast
import builtins
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from golddiff.episodes import Episode
from golddiff.traces.stdlib_bugs import (
    Function,
    Settings,
    _changes_code,
    _compiles,
    _Source,
    _Splice,
    every_bug,
    function_episode,
    functions_in,
    module_files,
    stdlib_root,
)

TOOL = "stdlib_edits"
KINDS = ("stated_fix", "rename", "change_default", "none_guard")
NEW_NAMES = ("result", "value", "count", "total", "text", "item", "items", "key", "name", "index", "size")
NEW_NAMES += ("data", "node", "path", "obj", "parts", "flag", "limit", "start", "chunk", "entry")
_BUILTINS = frozenset(dir(builtins))


@dataclass(frozen=True)
class EditRequest:
    """One stated change of a function: the source before and after, and the user's request."""

    function: Function
    kind: str
    before: str
    after: str
    request: str
    index: int  # which candidate of this kind it was (ids stay stable)


Candidate = tuple[str, str, str]  # before, after, request


# ----------------------------------------------------------------------------------------- kinds


def _stated_fixes(fn: Function, rng: random.Random) -> Iterator[Candidate]:
    """Mutations (`stdlib_bugs.every_bug`) that change one line; the request quotes both versions."""
    for bug in every_bug(fn, rng):
        old = [a for a, b in zip(bug.buggy.splitlines(), fn.lines) if a != b.rstrip("\n")]
        new = [b.rstrip("\n") for a, b in zip(bug.buggy.splitlines(), fn.lines) if a != b.rstrip("\n")]
        if len(old) != 1 or len(bug.buggy.splitlines()) != len(fn.lines) or len(old[0].strip()) > 70:
            continue
        yield bug.buggy, fn.source, f"In `{fn.name}`, change `{old[0].strip()}` to `{new[0].strip()}`."


def _names(fn: Function) -> dict[str, list[ast.AST]]:
    """Parameters and assigned locals of the function, each with every node that spells it (nested
    functions, lambdas and classes are left out: a name there may be another variable)."""
    a = fn.node.args
    params = [*a.posonlyargs, *a.args, *a.kwonlyargs] + [x for x in (a.vararg, a.kwarg) if x]
    found: dict[str, list[ast.AST]] = {p.arg: [p] for p in params}
    stores: set[str] = set()
    for stmt in fn.node.body:
        for node in _walk_scope(stmt):
            if isinstance(node, ast.Name):
                found.setdefault(node.id, []).append(node)
                if isinstance(node.ctx, ast.Store):
                    stores.add(node.id)
            elif isinstance(node, ast.Global | ast.Nonlocal):
                for name in node.names:
                    found.pop(name, None)
    keep = {p.arg for p in params} | stores
    return {k: v for k, v in found.items() if k in keep and k not in ("self", "cls")}


def _walk_scope(node: ast.AST) -> Iterator[ast.AST]:
    yield node
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            yield from _walk_scope(child)


def _renames(fn: Function, rng: random.Random) -> Iterator[Candidate]:
    src = _Source(fn)
    used = {n.id for n in ast.walk(fn.node) if isinstance(n, ast.Name)} | set(src.text.split())
    for old, nodes in sorted(_names(fn).items()):
        lines = {n.lineno for n in nodes}
        if not 2 <= len(nodes) <= 6 or len(lines) > 3 or len(old) < 1:
            continue
        fresh = [w for w in NEW_NAMES if w not in used and w != old]
        if not fresh:
            continue
        new = rng.choice(fresh)
        splices = [_Splice(*_name_span(src, n, old), new) for n in nodes]
        after = src.apply(*splices)
        tree = _compiles(after)
        if tree is None:
            continue
        kind = "parameter" if any(isinstance(n, ast.arg) for n in nodes) else "variable"
        yield src.text, after, f"In `{fn.name}`, rename the {kind} `{old}` to `{new}`."


def _name_span(src: _Source, node: ast.AST, name: str) -> tuple[int, int]:
    start = src.offset(node.lineno, node.col_offset)
    if src.text[start : start + len(name)] != name:  # e.g. an `ast.arg` whose span starts elsewhere
        raise ValueError(f"{name!r} is not at its node's position")
    return start, start + len(name)


def _defaults(fn: Function, rng: random.Random) -> Iterator[Candidate]:
    src = _Source(fn)
    a = fn.node.args
    positional = [*a.posonlyargs, *a.args]
    pairs = list(zip(positional[len(positional) - len(a.defaults) :], a.defaults))
    pairs += [(k, d) for k, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None]
    for arg, default in pairs:
        if not isinstance(default, ast.Constant) or default.lineno != fn.node.lineno:
            continue
        value = default.value
        if isinstance(value, bool):
            new = repr(not value)
        elif isinstance(value, int) and 0 <= value < 10_000:
            new = str(rng.choice([v for v in (value + 1, value * 2, 10, 100, 0) if v != value]))
        else:
            continue
        after = src.apply(_Splice(*src.span(default), new))
        yield src.text, after, f"In `{fn.name}`, change the default of `{arg.arg}` to {new}."


def _none_guards(fn: Function, rng: random.Random) -> Iterator[Candidate]:
    src = _Source(fn)
    body = fn.node.body
    first = 1 if _is_docstring(body[0]) and len(body) > 1 else 0
    if _is_docstring(body[first]) or body[first].lineno == fn.node.lineno:
        return
    if "is None" in src.text or "is not None" in src.text:
        return
    a = fn.node.args
    positional = [*a.posonlyargs, *a.args]
    no_default = positional[: len(positional) - len(a.defaults)]
    for arg in no_default:
        if arg.arg in ("self", "cls"):
            continue
        at = src.offset(body[first].lineno, 0)
        indent = " " * body[first].col_offset
        guard = f"{indent}if {arg.arg} is None:\n{indent}    return None\n"
        after = src.apply(_Splice(at, at, guard))
        yield src.text, after, f"Make `{fn.name}` return None right away when `{arg.arg}` is None."


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


_KIND_FNS: dict[str, Callable[[Function, random.Random], Iterator[Candidate]]] = {
    "stated_fix": _stated_fixes,
    "rename": _renames,
    "change_default": _defaults,
    "none_guard": _none_guards,
}


# ---------------------------------------------------------------------------------------- mining


def every_edit(fn: Function, rng: random.Random, kinds: tuple[str, ...] = KINDS) -> list[EditRequest]:
    """Every stated edit of the function that compiles and changes its code, kind by kind."""
    out: list[EditRequest] = []
    for kind in kinds:
        try:
            candidates = list(_KIND_FNS[kind](fn, rng))
        except ValueError:  # a node whose source position is not what ast says (rare): no edit of this kind
            continue
        for i, (before, after, request) in enumerate(candidates):
            if _changes_code(before, after):
                out.append(EditRequest(fn, kind, before, after, request, i))
    return out


def function_key(fn: Function) -> str:
    return f"{fn.relpath}:{fn.qualname}"


def mine_edits(
    n: int,
    seed: int = 0,
    root: Path | None = None,
    settings: Settings | None = None,
    kinds: tuple[str, ...] = KINDS,
    exclude: frozenset[str] | set[str] = frozenset(),
) -> list[EditRequest]:
    """`n` edit requests (fewer if the library runs out), one per function, kinds balanced: each
    function gets the kind mined least so far among those it allows. Functions in `exclude`
    (`function_key`) are skipped."""
    root, settings = root or stdlib_root(), settings or Settings()
    rng = random.Random(seed)
    files = module_files(root)
    rng.shuffle(files)
    found: list[EditRequest] = []
    seen: Counter = Counter()
    for path in files:
        fns = [fn for fn in functions_in(path, root, settings) if function_key(fn) not in exclude]
        rng.shuffle(fns)
        taken = 0
        for fn in fns:
            if taken >= settings.per_file or len(found) >= n:
                break
            by_kind: dict[str, list[EditRequest]] = {}
            for edit in every_edit(fn, rng, kinds):
                by_kind.setdefault(edit.kind, []).append(edit)
            if not by_kind:
                continue
            order = sorted(by_kind)
            rng.shuffle(order)
            kind = min(order, key=lambda k: seen[k])
            found.append(rng.choice(by_kind[kind]))
            seen[kind] += 1
            taken += 1
        if len(found) >= n:
            break
    return found


def mine(
    n: int = 200,
    seed: int = 0,
    root: Path | None = None,
    settings: Settings | None = None,
    kinds: tuple[str, ...] = KINDS,
    exclude: frozenset[str] | set[str] = frozenset(),
) -> list[Episode]:
    """`n` stated-edit episodes from the standard library (see `mine_edits`)."""
    root = root or stdlib_root()
    return [
        function_episode(e.function, e.before, e.after, e.request, f"{e.kind}:{e.index}", TOOL, root)
        for e in mine_edits(n, seed, root, settings, kinds, exclude)
    ]
