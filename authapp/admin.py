"""Admin for users."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from authapp.models import User

admin.site.register(User, UserAdmin)
