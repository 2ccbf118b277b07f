"""The REST API lives at /api/ (OpenAPI at /api/docs); routers come from each app's api.py."""

urlpatterns: list = []
