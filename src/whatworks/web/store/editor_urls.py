from django.urls import path, register_converter

from . import editor


class SignedIntConverter:
    """A draft's findings and studies: the live id, or a negative number for one the draft adds."""

    regex = "-?[0-9]+"

    def to_python(self, value):
        return int(value)

    def to_url(self, value):
        return str(value)


register_converter(SignedIntConverter, "ref")

app_name = "editor"
urlpatterns = [
    path("", editor.dashboard, name="dashboard"),
    path("interventions/new/", editor.intervention_edit, name="intervention_new"),
    path("interventions/<slug:slug>/", editor.intervention_page, name="intervention"),
    path("interventions/<slug:slug>/edit/", editor.intervention_edit, name="intervention_edit"),
    path("interventions/<slug:slug>/delete/", editor.intervention_delete,
         name="intervention_delete"),
    path("interventions/<slug:slug>/changes/", editor.changes_page, name="changes"),
    path("interventions/<slug:slug>/history/", editor.history_page, name="history"),
    path("interventions/<slug:slug>/discard/", editor.discard_draft, name="discard"),
    path("interventions/<slug:slug>/publish/", editor.publish, name="publish"),
    path("interventions/<slug:slug>/studies/new/", editor.study_new, name="study_new"),
    path("interventions/<slug:slug>/studies/<ref:ref>/delete/", editor.study_delete,
         name="study_delete"),
    path("interventions/<slug:slug>/findings/new/", editor.finding_edit, name="finding_new"),
    path("interventions/<slug:slug>/findings/<ref:finding_id>/", editor.finding_edit,
         name="finding_edit"),
    path("interventions/<slug:slug>/findings/<ref:finding_id>/delete/", editor.finding_delete,
         name="finding_delete"),
    path("import/", editor.import_data, name="import"),
    path("import/<int:job_id>/", editor.import_job, name="import_job"),
]
