"""Who makes a change: a signed-in person (with the address they came from) or the system."""

from dataclasses import dataclass
from typing import Any

from core.clientip import client_address


@dataclass(frozen=True)
class Actor:
    """The person (or system) behind a change, and the address the change came from."""

    user: Any = None
    ip: str | None = None
    label: str = "system"

    @classmethod
    def for_user(cls, user: Any, ip: str | None = None) -> "Actor":
        return cls(user=user, ip=ip, label=user.get_username())

    @classmethod
    def for_request(cls, request: Any) -> "Actor":
        """The signed-in user of a page or admin request, and its (proxy-aware) address."""
        address = client_address(request)
        return cls.for_user(request.user, ip=str(address) if address is not None else None)


SYSTEM = Actor()
