"""Routes of /api/auth/v1/."""

from django.urls import path

from authapp.views.logout import LogoutView
from authapp.views.me import MeView
from authapp.views.register import RegisterView
from authapp.views.tokens import LoginView, TokenRefreshRotateView

app_name = "authapp"

urlpatterns = [
    path("register/", RegisterView.as_view(), name="register"),
    path("login/", LoginView.as_view(), name="login"),
    path("token/refresh/", TokenRefreshRotateView.as_view(), name="token-refresh"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("me/", MeView.as_view(), name="me"),
]
