"""Single-function bug fixes mined from Python's own standard library, SWE-smith style, as Episodes.

Real code is on every machine that runs golddiff: the standard library (`sysconfig.get_paths()["stdlib"]`).
This module finds small functions there with `ast` (3 to 15 lines, short lines, ASCII), breaks each in one
place the way SWE-smith does, and makes an Episode whose gold diff is the fix:

- `flip_compare`  `<`↔`<=`, `>`↔`>=`, `==`↔`!=`, `is`↔`is not`, `in`↔`not in`
- `flip_arith`    `+`↔`-` (also `+=`↔`-=`)
- `flip_bool`     `and`↔`or`
- `off_by_one`    `range(n)`→`range(n + 1)`, `x[n]`/`x[:n]`→`x[n - 1]`/`x[:n - 1]`
- `swap_args`     `f(a, b)`→`f(b, a)`
- `remove_guard`  `if x is None: return ...` deleted

Each mutation is made on the source text (node positions from `ast`), so the rest of the function keeps its
formatting; it must change the function's AST and still compile. The episode's request is a templated bug
report naming the function ("`textwrap.shorten` is wrong when `width` equals ..."); its one base file is the
module's path with the buggy function (plus its class line for a method), so prompts stay short.

    from golddiff.traces.stdlib_bugs import mine
    episodes = mine(n=200, seed=0)       # deterministic for a seed and a Python version
    # then: golddiff.traces.ingest.ingest(paths, "episodes.jsonl", extra_episodes=episodes)

Pure Python (ast, no torch); CPU only; reads files, writes nothing.
"""

from __future__ import annotations

import ast
import random
import re
import sys
import sysconfig
import textwrap
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import ConfigDict

from golddiff.config import Strict
from golddiff.diffs import files_diff, unified_diff
from golddiff.episodes import Edit, Episode, FinalState, Labels, RepoState, Source, Turn, episode_id
from golddiff.traces.session import PARSER_VERSION

TOOL = "stdlib_bugs"
KINDS = ("flip_compare", "flip_arith", "flip_bool", "off_by_one", "swap_args", "remove_guard")
SKIP_PARTS = frozenset(
    {"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__", "turtledemo"}
    | {"encodings", "pydoc_data", "__phello__", "lib2to3", "ensurepip", "venv"}
)
_PAIRS = [(ast.Lt, "<", ast.LtE, "<="), (ast.Gt, ">", ast.GtE, ">="), (ast.Eq, "==", ast.NotEq, "!=")]
_PAIRS += [(ast.Is, "is", ast.IsNot, "is not"), (ast.In, "in", ast.NotIn, "not in")]
_COMPARE_FLIPS = {a: (x, y) for a, x, b, y in _PAIRS} | {b: (y, x) for a, x, b, y in _PAIRS}


class Settings(Strict):
    """What counts as a small function, and how many bugs to take from one file and one function."""

    model_config = ConfigDict(frozen=True)

    min_lines: int = 3
    max_lines: int = 15
    max_chars: int = 420  # the function's source (a byte-level model reads every byte)
    max_line_chars: int = 79
    per_file: int = 3  # functions taken from one module
    per_function: int = 1  # mutations kept per function


@dataclass(frozen=True)
class Function:
    """A small function: where it is, its source lines (with their indentation), its parsed node."""

    relpath: str  # under the stdlib root, e.g. "email/utils.py"
    qualname: str  # "TextWrapper._split"
    first_line: int  # 1-based line in the module where the source starts (a decorator, else `def`)
    lines: list[str]  # source lines, each ending in "\n"
    node: ast.FunctionDef | ast.AsyncFunctionDef
    class_line: str | None  # the `class ...:` line of a method

    @property
    def source(self) -> str:
        return "".join(self.lines)

    @property
    def name(self) -> str:
        """The dotted name a user would write: `email.utils.parseaddr`."""
        module = self.relpath.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        return f"{module}.{self.qualname}"


@dataclass(frozen=True)
class Bug:
    """One mutation of a function: the buggy source, and the bug report that goes with it."""

    function: Function
    kind: str
    buggy: str  # the whole function's source with the bug
    report: str
    index: int  # which candidate of this kind it was (ids stay stable)


# ------------------------------------------------------------------------------------- functions


def stdlib_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def module_files(root: Path) -> list[Path]:
    """The standard library's .py files, sorted, without tests, demos and generated code."""
    files = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if SKIP_PARTS.isdisjoint(rel.parts) and not rel.parts[0].startswith("config-"):
            files.append(path)
    return files


def _usable(lines: list[str], settings: Settings) -> bool:
    n, text = len(lines), "".join(lines)
    return (
        settings.min_lines <= n <= settings.max_lines
        and len(text) <= settings.max_chars
        and text.isascii()
        and "\t" not in text
        and all(len(ln) <= settings.max_line_chars + 1 for ln in lines)
    )


def _compiles(source: str) -> ast.Module | None:
    try:
        return ast.parse(textwrap.dedent(source))
    except (SyntaxError, ValueError):
        return None


def functions_in(path: Path, root: Path, settings: Settings) -> Iterator[Function]:
    """Small top-level functions and methods of top-level classes of one module, in source order."""
    try:
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return
    lines = text.splitlines(keepends=True)
    rel = path.relative_to(root).as_posix()
    for top in tree.body:
        if isinstance(top, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from _function(top, rel, lines, None, "", settings)
        elif isinstance(top, ast.ClassDef) and top.lineno == (top.body[0].lineno - 1 if top.body else 0):
            class_line = lines[top.lineno - 1]
            for node in top.body:
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    yield from _function(node, rel, lines, class_line, f"{top.name}.", settings)


def _function(node, rel: str, lines: list[str], class_line: str | None, prefix: str, settings: Settings):
    start = min([node.lineno] + [d.lineno for d in node.decorator_list])
    src = lines[start - 1 : node.end_lineno]
    if src and not src[-1].endswith("\n"):
        src = [*src[:-1], src[-1] + "\n"]
    if _usable(src, settings) and _compiles("".join(src)) is not None:
        yield Function(rel, prefix + node.name, start, src, node, class_line)


# ------------------------------------------------------------------------------------- mutations


@dataclass(frozen=True)
class _Splice:
    """Replace [start, end) of the function's source (offsets) with `text`."""

    start: int
    end: int
    text: str


class _Source:
    """Offsets into a function's source from `ast` (line, col) positions (ASCII, so cols are chars)."""

    def __init__(self, fn: Function) -> None:
        self.fn, self.text = fn, fn.source
        self.starts = [0]
        for ln in fn.lines:
            self.starts.append(self.starts[-1] + len(ln))

    def offset(self, lineno: int, col: int) -> int:
        return self.starts[lineno - self.fn.first_line] + col

    def span(self, node: ast.AST) -> tuple[int, int]:
        return self.offset(node.lineno, node.col_offset), self.offset(node.end_lineno, node.end_col_offset)

    def seg(self, node: ast.AST) -> str:
        a, b = self.span(node)
        return self.text[a:b]

    def apply(self, *splices: _Splice) -> str:
        out = self.text
        for s in sorted(splices, key=lambda s: s.start, reverse=True):
            out = out[: s.start] + s.text + out[s.end :]
        return out


def _op_splice(src: _Source, left: ast.AST, right: ast.AST, old: str, new: str) -> _Splice | None:
    """The splice that turns the operator `old` between two nodes into `new` (None if the gap is odd)."""
    a, b = src.span(left)[1], src.span(right)[0]
    gap = src.text[a:b]
    if " ".join(gap.strip(" ()").split()) != old or "#" in gap or "\\" in gap:
        return None
    m = re.search(r"\s+".join(map(re.escape, old.split())), gap)
    return _Splice(a + m.start(), a + m.end(), new) if m else None


def _short(src: _Source, node: ast.AST, limit: int = 32) -> str | None:
    text = " ".join(src.seg(node).split())
    return text if len(text) <= limit else None


Candidate = tuple[str, _Splice, dict[str, str]]  # kind, edit, words for the bug report


def _compare(src: _Source, node: ast.Compare) -> Iterator[Candidate]:
    if len(node.ops) == 1 and type(node.ops[0]) in _COMPARE_FLIPS:
        old, new = _COMPARE_FLIPS[type(node.ops[0])]
        splice = _op_splice(src, node.left, node.comparators[0], old, new)
        if splice:
            words = {"left": _short(src, node.left), "right": _short(src, node.comparators[0]), "op": new}
            yield "flip_compare", splice, words


def _arith(src: _Source, node: ast.AST) -> Iterator[Candidate]:
    flips = {ast.Add: ("+", "-"), ast.Sub: ("-", "+")}
    if isinstance(node, ast.BinOp) and type(node.op) in flips:
        if _textual(node.left) or _textual(node.right):
            return
        splice = _op_splice(src, node.left, node.right, *flips[type(node.op)])
        if splice:
            yield "flip_arith", splice, {"left": _short(src, node.left), "right": _short(src, node.right)}
    elif isinstance(node, ast.AugAssign) and type(node.op) in flips and not _textual(node.value):
        old, new = flips[type(node.op)]
        splice = _op_splice(src, node.target, node.value, old + "=", new + "=")
        if splice:
            yield "flip_arith", splice, {"left": _short(src, node.target), "right": _short(src, node.value)}


def _textual(node: ast.AST) -> bool:
    """A string, f-string, list or tuple operand: `+` there is concatenation, not arithmetic."""
    if isinstance(node, ast.Constant):
        return not isinstance(node.value, int | float) or isinstance(node.value, bool)
    return isinstance(node, ast.JoinedStr | ast.List | ast.Tuple)


def _bool(src: _Source, node: ast.BoolOp) -> Iterator[Candidate]:
    old, new = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
    if len(node.values) == 2:
        splice = _op_splice(src, node.values[0], node.values[1], old, new)
        if splice:
            words = {"left": _short(src, node.values[0]), "right": _short(src, node.values[1]), "op": new}
            yield "flip_bool", splice, words


def _plus_one(src: _Source, node: ast.AST, sign: str) -> _Splice | None:
    """`n` -> `n + 1` (or `n - 1`); an int literal k -> k ± 1; None for anything else."""
    if isinstance(node, ast.Constant):
        if type(node.value) is not int or (sign == "-" and node.value < 1):
            return None
        a, b = src.span(node)
        return _Splice(a, b, str(node.value + (1 if sign == "+" else -1)))
    if isinstance(node, ast.Name | ast.Attribute | ast.Call | ast.Subscript) and "\n" not in src.seg(node):
        end = src.span(node)[1]
        return _Splice(end, end, f" {sign} 1")
    return None


def _buggy_segment(src: _Source, node: ast.AST, splice: _Splice, limit: int = 32) -> str | None:
    """The node's source as it reads after the splice (the bug report quotes the buggy code)."""
    a, b = src.span(node)
    text = " ".join((src.text[a : splice.start] + splice.text + src.text[splice.end : b]).split())
    return text if len(text) <= limit else None


def _off_by_one(src: _Source, node: ast.AST) -> Iterator[Candidate]:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
        if 1 <= len(node.args) <= 2 and not node.keywords:
            splice = _plus_one(src, node.args[-1], "+")
            if splice:
                yield "off_by_one", splice, {"expr": _buggy_segment(src, node, splice)}
    elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
        s = node.slice
        bounds = [s.lower, s.upper] if isinstance(s, ast.Slice) and s.step is None else [s]
        for bound in bounds:
            if bound is not None and (splice := _plus_one(src, bound, "-")):
                yield "off_by_one", splice, {"expr": _buggy_segment(src, node, splice)}
                return


def _swap_args(src: _Source, node: ast.Call) -> Iterator[Candidate]:
    args = node.args
    if len(args) < 2 or any(isinstance(a, ast.Starred) for a in args[:2]):
        return
    name = _short(src, node.func, 24)
    if name in (None, "max", "min", "print", "set", "isinstance", "hasattr", "getattr", "setattr"):
        return
    first, second = src.seg(args[0]), src.seg(args[1])
    if first == second or "\n" in first + second:
        return
    (a0, a1), (b0, b1) = src.span(args[0]), src.span(args[1])
    yield "swap_args", _Splice(a0, b1, second + src.text[a1:b0] + first), {"func": name}


def _remove_guard(src: _Source, node: ast.If) -> Iterator[Candidate]:
    exits = (ast.Return, ast.Raise, ast.Continue, ast.Break)
    if node.orelse or len(node.body) != 1 or not isinstance(node.body[0], exits):
        return
    start = src.offset(node.lineno, 0)
    end = (
        src.offset(node.end_lineno + 1, 0)
        if node.end_lineno < src.fn.first_line + len(src.fn.lines)
        else len(src.text)
    )
    if src.text[start : src.offset(node.lineno, node.col_offset)].strip():
        return  # something else is on the `if` line
    if src.text[src.offset(node.end_lineno, node.end_col_offset) : end].strip():
        return
    yield "remove_guard", _Splice(start, end, ""), {"cond": _short(src, node.test, 40)}


def _candidates(fn: Function) -> list[Candidate]:
    """Every mutation of the function's body, in source order."""
    src = _Source(fn)
    visitors: list[tuple[type | tuple, Callable]] = [
        (ast.Compare, _compare),
        ((ast.BinOp, ast.AugAssign), _arith),
        (ast.BoolOp, _bool),
        ((ast.Call, ast.Subscript), _off_by_one),
        (ast.Call, _swap_args),
        (ast.If, _remove_guard),
    ]
    found: list[Candidate] = []
    for stmt in fn.node.body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
                continue
            for types, visit in visitors:
                if isinstance(node, types):
                    found.extend(visit(src, node))
    found.sort(key=lambda c: (c[1].start, KINDS.index(c[0])))
    return found


def _changes_code(original: str, buggy: str) -> bool:
    """The buggy source compiles and parses to a different AST than the original."""
    tree, before = _compiles(buggy), _compiles(original)
    return tree is not None and before is not None and ast.dump(tree) != ast.dump(before)


# ----------------------------------------------------------------------------------- bug reports

_REPORTS: dict[str, tuple[str, ...]] = {
    "flip_compare": (
        "`{name}` returns the wrong result when `{left}` and `{right}` are compared; the `{op}` check "
        "looks wrong.",
        "`{name}` misbehaves at the edge case where `{left}` meets `{right}`.",
    ),
    "flip_arith": (
        "`{name}` computes a wrong value from `{left}` and `{right}`.",
        "The arithmetic on `{left}` in `{name}` goes the wrong way.",
    ),
    "flip_bool": (
        "`{name}` gets it wrong when only one of `{left}` and `{right}` holds.",
        "The condition combining `{left}` and `{right}` in `{name}` is wrong.",
    ),
    "off_by_one": (
        "`{name}` is off by one around `{expr}`.",
        "`{name}` handles one item too many or too few: look at `{expr}`.",
    ),
    "swap_args": (
        "`{name}` passes the arguments of `{func}()` in the wrong order.",
        "`{name}` breaks because `{func}()` gets its arguments swapped.",
    ),
    "remove_guard": (
        "`{name}` no longer handles the case `{cond}` early; it should.",
        "`{name}` fails when `{cond}`: that case used to be handled first.",
    ),
}
_GENERIC = "`{name}` returns the wrong result in some cases; find the bug and fix it."


def bug_report(kind: str, name: str, words: dict[str, str | None], rng: random.Random) -> str:
    """A one-sentence bug report for a mutation; generic when a needed expression is too long to quote."""
    template = rng.choice(_REPORTS[kind])
    if any(words.get(k) is None for k in ("left", "right", "expr", "func", "cond") if f"{{{k}}}" in template):
        template = _GENERIC
    return template.format(name=name, **{k: v for k, v in words.items() if v is not None})


# ---------------------------------------------------------------------------------------- mining


def every_bug(fn: Function, rng: random.Random) -> list[Bug]:
    """Every mutation of the function that compiles and changes its AST, in source order."""
    src = _Source(fn)
    bugs, per_kind = [], Counter()
    for kind, splice, words in _candidates(fn):
        buggy = src.apply(splice)
        if _changes_code(fn.source, buggy):
            bugs.append(Bug(fn, kind, buggy, bug_report(kind, fn.name, words, rng), per_kind[kind]))
        per_kind[kind] += 1
    return bugs


def bugs_in(fn: Function, rng: random.Random, settings: Settings, seen: Counter | None = None) -> list[Bug]:
    """Up to `settings.per_function` bugs in one function, of different kinds: the kinds mined least so far
    (`seen`) first, ties in a seeded order; a random candidate of each."""
    by_kind: dict[str, list[Bug]] = {}
    for bug in every_bug(fn, rng):
        by_kind.setdefault(bug.kind, []).append(bug)
    kinds = sorted(by_kind)
    rng.shuffle(kinds)
    kinds.sort(key=lambda k: (seen or Counter())[k])
    return [rng.choice(by_kind[k]) for k in kinds[: settings.per_function]]


def excerpt(fn: Function, source: str) -> str:
    """The base file's content: a method's class line, then the function."""
    return (fn.class_line or "") + source


def to_episode(bug: Bug, root: Path) -> Episode:
    """The Episode of a bug: base = the buggy excerpt, gold = the original excerpt (the fix)."""
    fn = bug.function
    return function_episode(fn, bug.buggy, fn.source, bug.report, f"{bug.kind}:{bug.index}", TOOL, root)


def function_episode(
    fn: Function, base_source: str, final_source: str, request: str, variant: str, tool: str, root: Path
) -> Episode:
    """An Episode whose one base file is the function (`base_source`) and whose gold is `final_source`.
    Its session is the function (so a held-out split keeps every task on one function on one side)."""
    base = {fn.relpath: excerpt(fn, base_source)}
    final = {fn.relpath: excerpt(fn, final_source)}
    version = ".".join(map(str, sys.version_info[:3]))
    edit = Edit(
        edit_id="e0",
        path=fn.relpath,
        tool="fix",
        diff=unified_diff(fn.relpath, base[fn.relpath], final[fn.relpath]),
    )
    key = f"{version}:{fn.relpath}:{fn.qualname}"
    return Episode(
        episode_id=episode_id(tool, f"{key}:{variant}", 0),
        source=Source(
            tool=tool,
            version=version,
            path=str(root / fn.relpath),
            session_id=key,
            parser_version=PARSER_VERSION,
        ),
        repo=RepoState(cwd=str(root), base_files=base, base_state_confidence="reconstructed"),
        task=request,
        turns=[Turn(index=0, user=request, user_kind="task", edits=["e0"])],
        edits=[edit],
        final=FinalState(diff=files_diff(base, final), files=final, source="submission"),
        labels=Labels(gold_edits=["e0"]),
    )


def mine_bugs(n: int, seed: int = 0, root: Path | None = None, settings: Settings | None = None) -> list[Bug]:
    """`n` bugs (fewer if the library runs out), deterministic for (seed, library): modules in a seeded
    order, up to `per_file` functions of each, up to `per_function` mutations of each."""
    root, settings = root or stdlib_root(), settings or Settings()
    rng = random.Random(seed)
    files = module_files(root)
    rng.shuffle(files)
    bugs: list[Bug] = []
    seen: Counter = Counter()
    for path in files:
        fns = list(functions_in(path, root, settings))
        rng.shuffle(fns)
        taken = 0
        for fn in fns:
            if taken >= settings.per_file or len(bugs) >= n:
                break
            found = bugs_in(fn, rng, settings, seen)
            bugs.extend(found[: n - len(bugs)])
            seen.update(b.kind for b in found)
            taken += bool(found)
        if len(bugs) >= n:
            break
    return bugs


def mine(
    n: int = 200, seed: int = 0, root: Path | None = None, settings: Settings | None = None
) -> list[Episode]:
    """`n` bug-fix episodes from the standard library (see `mine_bugs`)."""
    root = root or stdlib_root()
    return [to_episode(bug, root) for bug in mine_bugs(n, seed, root, settings)]
