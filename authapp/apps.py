"""Authentication app configuration."""

from django.apps import AppConfig


class AuthappConfig(AppConfig):
    """Users, registration and JWT sessions."""

    name = "authapp"
    verbose_name = "Accounts"
