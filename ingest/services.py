"""What the Integration API changes: events, profiles (identify) and workflow runs."""

from django.db import transaction
from django.utils import timezone

from apikeys.keycache import KeySnapshot
from ingest import eventstore
from ingest.exceptions import TriggerNotFound
from ingest.models import Profile, ProfileAlias, WorkflowRun, WorkflowTrigger
from ingest.parsing import ParsedEvent


def events_ingest(
    *, key: KeySnapshot, events: list[ParsedEvent], location: dict | None = None
) -> None:
    """Store accepted events under the key's workspace, once each, with the profiles they make."""
    eventstore.events_insert(
        workspace_id=key.workspace_id,
        key_id=key.key_id,
        events=events,
        received_at=timezone.now(),
        location=location,
    )


def _user_profile_locked(*, workspace_id: int, user_id: str, now) -> Profile:
    # Insert-if-absent, then lock: concurrent first identifies of one user make one profile.
    Profile.objects.bulk_create(
        [Profile(workspace_id=workspace_id, user_id=user_id, created_at=now, updated_at=now)],
        ignore_conflicts=True,
    )
    return Profile.objects.select_for_update().get(workspace_id=workspace_id, user_id=user_id)


def _alias_locked(*, workspace_id: int, anonymous_id: str, profile: Profile) -> ProfileAlias:
    """The alias of this anonymous id, created for `profile` when there was none."""
    ProfileAlias.objects.bulk_create(
        [ProfileAlias(workspace_id=workspace_id, anonymous_id=anonymous_id, profile=profile)],
        ignore_conflicts=True,
    )
    return ProfileAlias.objects.select_for_update().get(
        workspace_id=workspace_id, anonymous_id=anonymous_id
    )


def _anonymous_profile_locked(*, workspace_id: int, anonymous_id: str, now) -> Profile:
    """The profile that an anonymous id belongs to, a new anonymous one when it has none."""
    alias = ProfileAlias.objects.filter(
        workspace_id=workspace_id, anonymous_id=anonymous_id
    ).first()
    if alias is not None:
        return Profile.objects.select_for_update().get(pk=alias.profile_id)
    # Insert-if-absent on the origin id: a concurrent first event of this visitor (which makes
    # the same anonymous profile) or identify makes one profile, not two.
    Profile.objects.bulk_create(
        [
            Profile(
                workspace_id=workspace_id,
                origin_anonymous_id=anonymous_id,
                anonymous_ids=[anonymous_id],
                created_at=now,
                updated_at=now,
            )
        ],
        ignore_conflicts=True,
    )
    profile = Profile.objects.select_for_update().get(
        workspace_id=workspace_id, origin_anonymous_id=anonymous_id
    )
    alias = _alias_locked(workspace_id=workspace_id, anonymous_id=anonymous_id, profile=profile)
    if alias.profile_id != profile.pk:  # a concurrent identify linked the id first
        profile.delete()
        return Profile.objects.select_for_update().get(pk=alias.profile_id)
    return profile


def _anonymous_ids_add(profile: Profile, anonymous_ids: list[str]) -> None:
    known = list(profile.anonymous_ids or [])
    profile.anonymous_ids = known + [item for item in anonymous_ids if item not in known]


def _merge(*, source: Profile, into: Profile) -> None:
    """Fold an anonymous profile into a user's: its aliases, ids and (older) properties."""
    ProfileAlias.objects.filter(profile=source).update(profile=into)
    _anonymous_ids_add(into, source.anonymous_ids or [])
    into.properties = {**(source.properties or {}), **(into.properties or {})}
    into.created_at = min(into.created_at, source.created_at)
    seen = [moment for moment in (into.last_seen_at, source.last_seen_at) if moment is not None]
    into.last_seen_at = max(seen, default=None)
    into.device_data = into.device_data or source.device_data
    into.location = into.location or source.location
    source.delete()


def _relink(*, alias: ProfileAlias, owner: Profile, to: Profile) -> None:
    """Move an anonymous id from one user's profile to another's: the latest identify wins."""
    owner.anonymous_ids = [item for item in owner.anonymous_ids if item != alias.anonymous_id]
    owner.save(update_fields=["anonymous_ids"])
    alias.profile = to
    alias.save(update_fields=["profile"])
    _anonymous_ids_add(to, [alias.anonymous_id])


def profile_identify(
    *,
    key: KeySnapshot,
    user_id: str | None,
    anonymous_id: str | None,
    properties: dict,
    device_data: dict | None = None,
    location: dict | None = None,
) -> Profile:
    """Create or update a profile, merge properties into it, and link an anonymous id to it.

    When the anonymous id already has an anonymous profile, that profile is merged into the
    user's (its properties lose to the user's own); when it belongs to another user, it moves.
    The latest `device_data` and `location` replace older ones; None keeps what was there.
    """
    if user_id is None and anonymous_id is None:
        raise ValueError("profile_identify needs a user id or an anonymous id")
    workspace_id = key.workspace_id
    now = timezone.now()
    with transaction.atomic():
        if user_id is None:
            profile = _anonymous_profile_locked(
                workspace_id=workspace_id, anonymous_id=anonymous_id, now=now
            )
        else:
            profile = _user_profile_locked(workspace_id=workspace_id, user_id=user_id, now=now)
            if anonymous_id is not None:
                alias = _alias_locked(
                    workspace_id=workspace_id, anonymous_id=anonymous_id, profile=profile
                )
                if alias.profile_id == profile.pk:
                    _anonymous_ids_add(profile, [anonymous_id])
                else:
                    owner = Profile.objects.select_for_update().get(pk=alias.profile_id)
                    if owner.user_id is None:
                        _merge(source=owner, into=profile)
                    else:
                        _relink(alias=alias, owner=owner, to=profile)
        profile.properties = {**(profile.properties or {}), **properties}
        if device_data is not None:
            profile.device_data = device_data
        if location is not None:
            profile.location = location
        profile.updated_at = now
        profile.save()
    return profile


def workflow_trigger(
    *, key: KeySnapshot, trigger_id: str, user_id: str | None, variables: dict
) -> WorkflowRun:
    """Record a run of an enabled trigger of the key's workspace; 404 for any other trigger."""
    trigger = WorkflowTrigger.objects.filter(
        workspace_id=key.workspace_id, trigger_id=trigger_id, enabled=True
    ).first()
    if trigger is None:
        raise TriggerNotFound()
    run = WorkflowRun(
        workspace_id=key.workspace_id,
        trigger=trigger,
        user_id=user_id,
        variables=variables,
        key_id=key.key_id,
        created_at=timezone.now(),
    )
    run.full_clean(exclude=["workspace", "trigger", "key"], validate_constraints=False)
    run.save()
    return run
