from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("sign-in/", auth_views.LoginView.as_view(template_name="accounts/login.html"), name="login"),
    path("sign-out/", auth_views.LogoutView.as_view(), name="logout"),
    path("users/", views.users, name="users"),
    path("audit/", views.audit, name="audit"),
    path("users/<int:user_id>/role/", views.change_role, name="change_role"),
    path("users/<int:user_id>/token/revoke/", views.revoke_token, name="revoke_token"),
]
