from django.urls import path

from . import exports, views

app_name = "store"
urlpatterns = [
    path("", views.home, name="home"),
    path("interventions/", views.intervention_index, name="index"),
    path("interventions/<slug:slug>/", views.intervention_detail, name="intervention"),
    path("interventions/<slug:slug>/forest/<slug:outcome>.svg", views.forest_svg, name="forest"),
    path("outcomes/", views.outcomes, name="outcomes"),
    path("compare/", views.compare, name="compare"),
    path("methods/", views.methods, name="methods"),
    path("export/store.json", exports.export_json, name="export_json"),
    path("export/store-csv.zip", exports.export_csv, name="export_csv"),
]
