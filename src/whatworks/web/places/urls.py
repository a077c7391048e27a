from django.urls import path, re_path

from . import views

app_name = "places"
urlpatterns = [
    path("", views.index, name="index"),
    path("funnel.csv", views.funnel_csv, name="funnel_csv"),
    re_path(r"^funnel\.(?P<fmt>svg|png)$", views.funnel_chart, name="funnel_chart"),
    path("<str:code>/", views.authority, name="authority"),
    path("<str:code>/data.csv", views.data_csv, name="data_csv"),
    re_path(r"^(?P<code>[^/]+)/(?P<kind>trend|funnel|deprivation)\.(?P<fmt>svg|png)$", views.chart,
            name="chart"),
]
