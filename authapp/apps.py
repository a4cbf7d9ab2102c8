"""Authentication app configuration."""

from django.apps import AppConfig


class AuthappConfig(AppConfig):
    """Users, registration and JWT sessions."""

    name = "authapp"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # Registers the OpenAPI extension of our authentication class.
        from authapp import schema  # noqa: F401
