from django.urls import path

from . import editor

app_name = "editor"
urlpatterns = [
    path("", editor.dashboard, name="dashboard"),
    path("interventions/new/", editor.intervention_edit, name="intervention_new"),
    path("interventions/<slug:slug>/", editor.intervention_page, name="intervention"),
    path("interventions/<slug:slug>/edit/", editor.intervention_edit, name="intervention_edit"),
    path("interventions/<slug:slug>/publish/", editor.publish, name="publish"),
    path("interventions/<slug:slug>/studies/new/", editor.study_new, name="study_new"),
    path("interventions/<slug:slug>/findings/new/", editor.finding_edit, name="finding_new"),
    path("interventions/<slug:slug>/findings/<int:finding_id>/", editor.finding_edit,
         name="finding_edit"),
    path("interventions/<slug:slug>/findings/<int:finding_id>/delete/", editor.finding_delete,
         name="finding_delete"),
    path("import/", editor.import_data, name="import"),
    path("import/<int:job_id>/", editor.import_job, name="import_job"),
]
