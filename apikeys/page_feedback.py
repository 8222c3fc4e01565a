"""Where the settings pages put what they have to say: next to what changed, never off-screen.

A change that succeeds leaves a message tagged with the section of the key's page it is about
and redirects to that section's feedback box (`#<section>-feedback`): the browser lands on the
message itself, which sits inside the section that changed. Messages not about a section
(the list page's own) are shown on top, where that page lands.
"""

from django.contrib import messages
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse

from apikeys.models import ApiKey
from workspaces.models import Workspace

TAG = "section:"


def feedback(request: HttpRequest, section: str, text: str, *, level: int = messages.SUCCESS):
    """Say `text` in `section` of the page the admin is sent to next."""
    messages.add_message(request, level, text, extra_tags=f"{TAG}{section}")


def feedback_by_section(request: HttpRequest) -> tuple[dict[str, list], list]:
    """This request's messages: those of each section, and the others (shown on top)."""
    sections: dict[str, list] = {}
    others = []
    for message in messages.get_messages(request):
        tags = (message.extra_tags or "").split()
        section = next((tag[len(TAG) :] for tag in tags if tag.startswith(TAG)), None)
        if section is None:
            others.append(message)
        else:
            sections.setdefault(section, []).append(message)
    return sections, others


def list_url(workspace: Workspace, anchor: str = "") -> str:
    url = reverse("apikeys:settings", kwargs={"slug": workspace.slug})
    return f"{url}#{anchor}" if anchor else url


def key_url(key: ApiKey, section: str = "") -> str:
    """The key's page, landing on a section's feedback box when `section` is given."""
    url = reverse("apikeys:key", kwargs={"slug": key.workspace.slug, "key_id": key.pk})
    return f"{url}#{section}-feedback" if section else url


def to_key(key: ApiKey, section: str) -> HttpResponseRedirect:
    return redirect(key_url(key, section))
