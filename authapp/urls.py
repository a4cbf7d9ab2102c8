"""Routes of /api/auth/v1/."""

from django.urls import path

from authapp.views.logout import LogoutView
from authapp.views.me import MeView
from authapp.views.register import RegisterView
from authapp.views.sessions import (
    LogoutAllView,
    PasswordChangeView,
    SessionDeleteView,
    SessionListView,
)
from authapp.views.tokens import LoginView, TokenRefreshRotateView

app_name = "authapp"

urlpatterns = [
    path("register/", RegisterView.as_view(), name="register"),
    path("login/", LoginView.as_view(), name="login"),
    path("token/refresh/", TokenRefreshRotateView.as_view(), name="token-refresh"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("logout/all/", LogoutAllView.as_view(), name="logout-all"),
    path("me/", MeView.as_view(), name="me"),
    path("sessions/", SessionListView.as_view(), name="sessions"),
    path("sessions/<uuid:session_id>/", SessionDeleteView.as_view(), name="session-delete"),
    path("password/", PasswordChangeView.as_view(), name="password"),
]
