"""What a roll does, said plainly before it is done: the key, the grace, and who is cut off."""

from dataclasses import dataclass

from apikeys.lifecycle import GRACE_PERIODS
from apikeys.models import ApiKey, KeySecret


@dataclass(frozen=True)
class GraceOption:
    """A grace the admin may choose, with the confirmation that choosing it asks."""

    value: str
    label: str
    confirm: str


def _label(key: ApiKey, role: str) -> str:
    if role == KeySecret.Role.CLIENT_SECRET:
        return "client secret"
    return "API key" if key.kind == ApiKey.Kind.METRICS else "secret key"


def roll_warnings(*, key: ApiKey, role: str, grace: str, retiring: list[KeySecret]) -> list[str]:
    """The sentences a roll's confirmation says, in order."""
    label = _label(key, role)
    grace_label = GRACE_PERIODS[grace][1] if grace in GRACE_PERIODS else grace
    said = [f"Roll the {label} of “{key.name}” ({key.get_kind_display()})?"]
    if grace == "none":
        said.append(
            f"Grace “None”: the current {label} stops now, so every client still using it "
            "is refused from this moment."
        )
    else:
        said.append(f"The current {label} keeps working for {grace_label}, then stops.")
    older = [secret.mask for secret in retiring if secret.role == role]
    if older:
        when = "now" if grace == "none" else f"within {grace_label} at the latest"
        said.append(
            f"Older {label}s still in their grace ({', '.join(older)}) are cut to the new "
            f"grace: they stop {when}."
        )
    said.append(f"The new {label} is shown once.")
    return said


def grace_options(*, key: ApiKey, role: str, retiring: list[KeySecret]) -> list[GraceOption]:
    """Every grace, each with the confirmation the page's dialog shows when it is chosen."""
    return [
        GraceOption(
            value=value,
            label=label,
            confirm=" ".join(roll_warnings(key=key, role=role, grace=value, retiring=retiring)),
        )
        for value, (_, label) in GRACE_PERIODS.items()
    ]
