from django.urls import path

from . import views

app_name = "knowledge"
urlpatterns = [
    path("", views.article_list, name="list"),
    path("new/", views.article_new, name="new"),
    path("preview/", views.preview, name="preview"),
    path("a/<uuid:article_id>/", views.article_detail, name="article"),
    path("a/<uuid:article_id>/translation/", views.save_translation, name="save_translation"),
    path(
        "a/<uuid:article_id>/translation/<str:language>/delete/",
        views.delete_translation,
        name="delete_translation",
    ),
    path("a/<uuid:article_id>/settings/", views.article_settings, name="settings"),
    path("a/<uuid:article_id>/images/", views.upload_image, name="upload_image"),
    path("a/<uuid:article_id>/revisions/<int:revision_id>/restore/", views.restore_revision, name="restore"),
    path("categories/", views.categories, name="categories"),
    path("examples/", views.examples, name="examples"),
    path("examples/<int:example_id>/", views.review_example, name="review_example"),
    path("assist/<uuid:conversation_id>/", views.assist, name="assist"),
]
