"""Admin for users and their login sessions."""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin

from authapp.models import Session, User
from authapp.services import session_end_all
from lighTech.admin import ReadOnlyAdmin

admin.site.register(User, UserAdmin)


@admin.register(Session)
class SessionAdmin(ReadOnlyAdmin):
    """Login sessions, read-only; ending them goes through the service."""

    list_display = (
        "id",
        "user",
        "created_at",
        "last_refreshed_at",
        "expires_at",
        "ip",
        "revoked_at",
    )
    list_filter = ("revoked_at",)
    search_fields = ("user__username", "ip", "user_agent")
    list_select_related = ("user",)
    actions = ("end_all_sessions_of_users",)

    @admin.action(description="End every session of the selected sessions' users")
    def end_all_sessions_of_users(self, request, queryset):
        users = {session.user for session in queryset.select_related("user")}
        ended = sum(session_end_all(user=user) for user in users)
        self.message_user(request, f"{ended} session(s) ended.", messages.SUCCESS)
