from django.urls import path

from . import views

app_name = "trials"
urlpatterns = [
    path("", views.registry, name="registry"),
    path("new/", views.trial_new, name="trial_new"),
    path("power/", views.power, name="power"),
    path("report.css", views.report_css, name="report_css"),
    path("power/curve.svg", views.power_curve_svg, name="power_curve"),
    path("programme/", views.programme, name="programme"),
    path("programme/new/", views.project_new, name="project_new"),
    path("programme/<slug:slug>/", views.project, name="project"),
    path("programme/<slug:slug>/edit/", views.project_edit, name="project_edit"),
    path("programme/<slug:slug>/evaluations/new/", views.evaluation_new, name="evaluation_new"),
    path("programme/<slug:slug>/criteria/new/", views.criterion_new, name="criterion_new"),
    path("programme/<slug:slug>/criteria/<int:pk>/result/", views.criterion_result, name="criterion_result"),
    path("programme/<slug:slug>/decisions/new/", views.decision_new, name="decision_new"),
    path("<slug:slug>/", views.trial, name="trial"),
    path("<slug:slug>/publish/", views.trial_publish, name="publish"),
    path("<slug:slug>/randomise/", views.trial_randomise, name="randomise"),
    path("<slug:slug>/enrol/start/", views.trial_enrol_start, name="enrol_start"),
    path("<slug:slug>/enrol/", views.trial_enrol, name="enrol"),
    path("<slug:slug>/enrol/close/", views.trial_enrol_close, name="enrol_close"),
    path("<slug:slug>/allocation.csv", views.allocation_csv, name="allocation_csv"),
    path("<slug:slug>/allocation-log.jsonl", views.allocation_log, name="allocation_log"),
    path("<slug:slug>/analyse/", views.trial_analyse, name="analyse"),
    path("<slug:slug>/analyses/<int:pk>/", views.trial_analysis, name="analysis"),
    path("<slug:slug>/report.html", views.trial_report, name="report"),
    path("<slug:slug>/report.pdf", views.trial_report_pdf, name="report_pdf"),
]
