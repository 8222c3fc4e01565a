"""Users for the management commands: an existing one, or a new one with a password shown once."""

import secrets

from django.contrib.auth import get_user_model


def user_get_or_create(username: str):
    """The user called `username`, and None; or a new user and its password (print it once)."""
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    if user is not None:
        return user, None
    password = secrets.token_urlsafe(12)
    user = User(username=username)
    user.full_clean(exclude=["password"])
    user.set_password(password)
    user.save()
    return user, password
