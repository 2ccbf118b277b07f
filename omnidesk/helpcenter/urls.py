from django.urls import path

from . import views

app_name = "helpcenter"
urlpatterns = [
    path("", views.root, name="root"),
    path("<str:lang>/", views.home, name="home"),
    path("<str:lang>/search/", views.search, name="search"),
    path("<str:lang>/suggest/", views.suggest, name="suggest"),
    path("<str:lang>/c/<slug:slug>/", views.category, name="category"),
    path("<str:lang>/a/<uuid:article_id>/feedback/", views.feedback, name="feedback"),
    path("<str:lang>/a/<uuid:article_id>/", views.article, name="article_short"),
    path("<str:lang>/a/<uuid:article_id>/<str:slug>/", views.article, name="article"),
    path("<str:lang>/contact/<uuid:inbox_id>/", views.contact, name="contact"),
    path("<str:lang>/contact/<uuid:inbox_id>/sent/", views.contact_sent, name="contact_sent"),
]
