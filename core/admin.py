"""The base of every admin page that writes: each write goes through the service functions.

The admin never saves a workspace, membership, key or rule itself. A `ServiceModelForm` makes its
change through the service functions while it validates, so a refusal is shown as a form error;
`ServiceModelAdmin` rolls the request's transaction back whenever such a form is shown again, so
a refused submission leaves nothing half done. New secrets are shown once, on a page rendered in
the response itself: never in a message, the session, a cookie or a redirect.
"""

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.templatetags.admin_urls import admin_urlname
from django.core.exceptions import ValidationError
from django.db import router, transaction
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers

from core.actors import Actor
from core.forms import add_service_errors

ONE_TIME_TEMPLATE = "admin/apikeys/one_time_secrets.html"


class ServiceModelForm(forms.ModelForm):
    """A model form whose validation makes its change through services, never by saving itself.

    `clean()` runs `apply()` once every field is valid. It does not call `ModelForm.clean()`:
    uniqueness is the service's to check, under its own lock.
    """

    actor: Actor | None = None  # bound per request by ServiceModelAdmin.get_form
    issued: tuple[tuple[str, str], ...] = ()  # secrets the change made, for the one-time page

    def clean(self) -> dict[str, Any]:
        if not self.errors:
            self.apply()
        return self.cleaned_data

    def apply(self) -> None:
        raise NotImplementedError

    def call(self, service: Callable[..., Any], /, **kwargs: Any) -> Any:
        """Run a service as this form's actor; its refusal becomes form errors and None."""
        try:
            with transaction.atomic():
                return service(by=self.actor, **kwargs)
        except ValidationError as error:
            add_service_errors(self, error)
            return None

    def adopt(self, obj: Any) -> None:
        """Make the object a service created this form's instance, with the values it stored."""
        self.instance = obj
        for name in self.cleaned_data:
            if name in self.fields and hasattr(obj, name):  # a form-only field keeps its value
                self.cleaned_data[name] = getattr(obj, name)


class ServiceModelAdmin(admin.ModelAdmin):
    """An admin whose forms are ServiceModelForms: `form` to change, `add_form` to add."""

    add_form: type[ServiceModelForm] | None = None

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None and self.add_form is not None:
            kwargs["form"] = self.add_form
        form = super().get_form(request, obj, change=change, **kwargs)
        form.actor = Actor.for_request(
            request
        )  # a class made for this request by modelform_factory
        return form

    def save_model(self, request, obj, form, change):
        """Nothing to write: the form's services did. Keep what they issued for the response."""
        request.issued_secrets = form.issued

    def save_related(self, request, form, formsets, change):
        """Nothing to write: these admins have no inlines and no many-to-many fields."""

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # Built first: it may still query (the content type, on a cold cache), which a
        # transaction marked for rollback refuses. The template renders after the transaction.
        response = super().render_change_form(request, context, add, change, form_url, obj)
        if request.method == "POST":
            # The form is shown again because a check refused the change: undo whatever its
            # services already did inside this request's transaction (the admin opened it).
            transaction.set_rollback(True, using=router.db_for_write(self.model))
        return response

    def response_add(self, request, obj, post_url_continue=None):
        rows = getattr(request, "issued_secrets", None)
        if not rows:
            return super().response_add(request, obj, post_url_continue)
        return self.one_time_response(
            request, title=f"“{obj}” was added", rows=rows, links=self.links_for(obj)
        )

    def links_for(self, obj) -> list[tuple[str, str]]:
        """Where to go from the one-time page: the object, or the list it is in."""
        return [
            (f"Go to {obj}", reverse(admin_urlname(self.opts, "change"), args=[obj.pk])),
            (
                f"All {self.opts.verbose_name_plural}",
                reverse(admin_urlname(self.opts, "changelist")),
            ),
        ]

    def one_time_response(
        self,
        request: HttpRequest,
        *,
        title: str,
        rows: list[tuple[str, str]],
        links: list[tuple[str, str]],
        errors: list[str] | None = None,
    ) -> TemplateResponse:
        """The page that shows new secrets: rendered in this response, never stored or cached."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "rows": rows,
            "links": links,
            "errors": errors or [],
        }
        response = TemplateResponse(request, ONE_TIME_TEMPLATE, context)
        add_never_cache_headers(response)
        return response


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """An admin that shows records and never adds, edits or deletes them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
