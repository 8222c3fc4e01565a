"""What an event name is: one rule for what ingestion accepts and what a key may allow.

Pure: no Django. A name is 1 to `MAX_EVENT_NAME_LENGTH` characters with no whitespace and no
control (or other unprintable) character.
"""

from typing import Any

MAX_EVENT_NAME_LENGTH = 200


def event_name_valid(name: Any) -> bool:
    """Whether this is an event name (the fast check ingestion makes for every event)."""
    return (
        type(name) is str
        and 0 < len(name) <= MAX_EVENT_NAME_LENGTH
        and name.isprintable()  # False for every whitespace character but the space
        and " " not in name
    )


def event_name_problem(name: Any) -> str | None:
    """Why this is not an event name, as a stable code, or None when it is one.

    Codes: `empty` (not a string, or empty), `whitespace` (whitespace or a control character),
    `max_length` (longer than `MAX_EVENT_NAME_LENGTH`).
    """
    if type(name) is not str or not name:
        return "empty"
    if not name.isprintable() or " " in name:
        return "whitespace"
    if len(name) > MAX_EVENT_NAME_LENGTH:
        return "max_length"
    return None
