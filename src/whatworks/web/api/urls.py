from django.urls import path
from drf_spectacular.renderers import OpenApiJsonRenderer2
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import SimpleRouter

from . import views

app_name = "api"
router = SimpleRouter()
router.trailing_slash = "/?"  # /api/interventions and /api/interventions/ both work
router.register("interventions", views.InterventionViewSet, basename="intervention")
router.register("outcomes", views.OutcomeViewSet, basename="outcome")
router.register("studies", views.StudyViewSet, basename="study")
router.register("findings", views.FindingViewSet, basename="finding")
router.register("syntheses", views.SynthesisViewSet, basename="synthesis")
router.register("ratings", views.RatingViewSet, basename="rating")

urlpatterns = [
    path("", views.api_index, name="index"),
    path("docs/", views.ApiDocsView.as_view(url_name="api:openapi"), name="docs"),
    path("openapi.json", SpectacularAPIView.as_view(renderer_classes=[OpenApiJsonRenderer2]),
         name="openapi"),
    path("effect-size", views.effect_size, name="effect-size"),
    path("interventions/<slug:slug>/publish", views.publish, name="publish"),
    path("interventions/<slug:slug>/draft", views.draft, name="draft"),
    path("imports", views.import_create, name="imports"),
    path("imports/<int:job_id>", views.import_detail, name="import"),
    *router.urls,
]
