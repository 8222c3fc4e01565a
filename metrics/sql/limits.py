"""How much work one query may cost the compiler: refused with 400 before any database work.

Parsing is the expensive step (sqlglot's parser is pure Python), so the text is first measured
with one C-speed regular expression: its length, its tokens and how deeply its brackets nest.
Only text inside those bounds is parsed; the tree is then measured again (nodes, depth, select
items), and the bound values (placeholders and their bytes) before a single value is bound.
A wall-clock budget covers parse and compile: checked between steps everywhere and, on the
main thread of a process that leaves SIGALRM free (gunicorn's sync workers, tests), also
enforced inside a step by a timer.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from sqlglot import exp

from .errors import SqlError


@dataclass(frozen=True)
class Limits:
    """The most one query may hold; every field is a setting (docs/metrics-api.md)."""

    max_length: int = 100_000  # characters of SQL text
    max_nodes: int = 20_000  # tokens before parsing, tree nodes after
    max_depth: int = 200  # bracket nesting before parsing, tree depth after
    max_select_items: int = 500  # select-list entries, summed over every SELECT
    max_placeholders: int = 200  # @{name} occurrences
    max_bound_bytes: int = 1_000_000  # UTF-8 bytes of every bound value, summed per occurrence
    time_budget: float = 2.0  # seconds for parse + compile


# One token: a quoted string or name (doubled quotes inside), a comment, a word, a symbol.
_TOKEN = re.compile(
    r"'(?:[^']|'')*'?|\"(?:[^\"]|\"\")*\"?|--[^\n]*|/\*.*?(?:\*/|\Z)|\w+|[^\w\s]", re.DOTALL
)


def check_text_shape(text: str, limits: Limits) -> None:
    """Refuse text with too many tokens or brackets nested too deeply, before parsing it."""
    count = depth = deepest = 0
    for match in _TOKEN.finditer(text):
        count += 1
        symbol = match.group()
        if symbol == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif symbol == ")":
            depth -= 1
    if count > limits.max_nodes:
        raise _too_complex(limits)
    if deepest > limits.max_depth:
        raise _too_deep(limits)


def check_bound_values(
    occurrences: Mapping[str, int], names: Mapping[str, str], values: Mapping[str, object],
    limits: Limits,
) -> None:  # fmt: skip
    """Refuse too many placeholders, or bound values too large in all (each use counts)."""
    total = sum(occurrences.values())
    if total > limits.max_placeholders:
        raise SqlError(
            "too_many_placeholders",
            f"The query uses {total} placeholders; at most {limits.max_placeholders} are allowed.",
        )
    size = 0
    for token, count in occurrences.items():
        value = values.get(names[token])
        if isinstance(value, str):
            size += count * len(value.encode("utf-8", "surrogatepass"))
        else:
            size += count * 8
    if size > limits.max_bound_bytes:
        raise SqlError(
            "variables_too_large",
            f"The placeholders bind {size} bytes of values in all; at most "
            f"{limits.max_bound_bytes} are allowed (each use of a placeholder counts).",
        )


def check_tree_size(tree: exp.Expression, limits: Limits) -> None:
    """Refuse a parsed tree with too many nodes, too deep, or too many select items."""
    nodes = items = 0
    stack: list[tuple[exp.Expression, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > limits.max_nodes:
            raise _too_complex(limits)
        if depth > limits.max_depth:
            raise _too_deep(limits)
        if isinstance(node, exp.Select):
            items += len(node.expressions)
            if items > limits.max_select_items:
                raise SqlError(
                    "too_many_select_items",
                    f"The query selects more than {limits.max_select_items} items in all.",
                )
        stack.extend((child, depth + 1) for child in node.iter_expressions())


class Deadline:
    """The parse + compile budget of one query: `check()` between steps raises past it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.ends:
            raise self.expired()

    def expired(self) -> SqlError:
        return SqlError(
            "compile_timeout",
            f"The query took longer than {self.seconds:g} seconds to compile: simplify it.",
        )


class _Alarm(BaseException):
    # BaseException: no `except Exception` in the parser may swallow it.
    pass


@contextmanager
def time_budget(seconds: float) -> Iterator[Deadline]:
    """A Deadline; enforced inside steps too, by a timer, where a signal can be used."""
    deadline = Deadline(seconds)
    if not _can_use_alarm():
        yield deadline
        return

    armed = True

    def ring(signum, frame):
        if armed:
            raise _Alarm()

    previous = signal.signal(signal.SIGALRM, ring)
    # It rings again every 50 ms: an exception raised where Python ignores it (a garbage
    # collector callback, a __del__) must not end the budget's enforcement.
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001), 0.05)
    try:
        try:
            yield deadline
        finally:
            armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _Alarm:
        raise deadline.expired() from None
    finally:
        signal.signal(signal.SIGALRM, previous)


def _can_use_alarm() -> bool:
    # Only the main thread receives signals, and a handler someone else installed (a test
    # timeout, say) is theirs: leave it alone.
    if threading.current_thread() is not threading.main_thread():
        return False
    if not hasattr(signal, "setitimer"):
        return False
    if signal.getsignal(signal.SIGALRM) not in (signal.SIG_DFL, signal.SIG_IGN, None):
        return False
    return signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def _too_complex(limits: Limits) -> SqlError:
    return SqlError(
        "query_too_complex",
        f"The query is too complex: more than {limits.max_nodes} tokens or parts.",
    )


def _too_deep(limits: Limits) -> SqlError:
    return SqlError(
        "query_too_deep",
        f"The query is nested too deeply: more than {limits.max_depth} levels.",
    )
