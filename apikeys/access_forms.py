"""Forms of a key's Access control and Events sections: a proposal, its preview, then a choice.

`step` says what the admin asked for: `preview` the impact, `enforce` or `monitor` the list
(when tightening from Anywhere or All events), or `save` (when loosening, or already limited).
`previewed` carries the proposal the admin saw the impact of, so that a list changed after its
preview is previewed again instead of being applied unseen.
"""

from django import forms

from apikeys.forms import AllowedEventsForm, NameListField
from apikeys.models import ApiKey

STEPS = ["preview", "enforce", "monitor", "save"]


def proposal_signature(items: list[str]) -> str:
    """The same text for the same set of addresses or names, whatever their order."""
    return " ".join(sorted(set(items)))


class AccessSetForm(forms.Form):
    """Anywhere or Specific locations, with the addresses to add in the same save."""

    access_mode = forms.ChoiceField(
        choices=ApiKey.AccessMode.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose “Anywhere” or “Specific locations”."},
    )
    addresses = NameListField(required=False)  # seen addresses, and the admin's own, ticked
    rules = forms.CharField(required=False, max_length=5_000)  # others, typed
    add_all = forms.BooleanField(required=False)
    step = forms.ChoiceField(choices=[(step, step) for step in STEPS], required=False)
    previewed = forms.CharField(required=False)

    def clean(self):
        data = super().clean()
        typed = (data.get("rules") or "").replace(",", " ").split()
        data["networks"] = list(dict.fromkeys([*data.get("addresses", []), *typed]))
        data["step"] = data.get("step") or "save"
        return data


class EventsSetForm(AllowedEventsForm):
    """All profile events, or the chosen names, with the step the admin asked for."""

    step = forms.ChoiceField(choices=[(step, step) for step in STEPS], required=False)
    previewed = forms.CharField(required=False)

    def clean(self):
        data = super().clean()
        data["step"] = data.get("step") or "save"
        return data


class EnforceForm(forms.Form):
    """Which monitored list to enforce: the addresses or the events."""

    which = forms.ChoiceField(choices=[("addresses", "addresses"), ("events", "events")])
