# The moved Inbox gets its own table name (the many-to-many table follows), its content type keeps its
# permissions and admin history, and each inbox gets a health row (InboxHealth).

import django.db.models.deletion
from django.db import migrations, models


def move_content_types(apps, schema_editor):
    """connectors.inbox / connectors.journalentry → inboxes.inbox / ingest.journalentry, where the
    content types live (not in the SQLite journal database)."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    alias = schema_editor.connection.alias
    from django.db import router

    if not router.allow_migrate_model(alias, ContentType):
        return
    for model, label in (("inbox", "inboxes"), ("journalentry", "ingest")):
        if ContentType.objects.using(alias).filter(app_label=label, model=model).exists():
            continue
        ContentType.objects.using(alias).filter(app_label="connectors", model=model).update(app_label=label)


def move_content_types_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    alias = schema_editor.connection.alias
    from django.db import router

    if not router.allow_migrate_model(alias, ContentType):
        return
    for model, label in (("inbox", "inboxes"), ("journalentry", "ingest")):
        ContentType.objects.using(alias).filter(app_label=label, model=model).update(app_label="connectors")


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("inboxes", "0001_initial"),
        ("connectors", "0004_models_moved"),
    ]

    operations = [
        migrations.AlterModelTable(name="inbox", table=None),
        migrations.RunPython(move_content_types, move_content_types_back),
        migrations.CreateModel(
            name="InboxHealth",
            fields=[
                (
                    "inbox",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="health",
                        serialize=False,
                        to="inboxes.inbox",
                    ),
                ),
                ("last_inbound_at", models.DateTimeField(blank=True, null=True, verbose_name="last inbound")),
                (
                    "last_outbound_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="last outbound"),
                ),
                ("last_error", models.TextField(blank=True, default="", verbose_name="last error")),
                ("last_error_at", models.DateTimeField(blank=True, null=True, verbose_name="last error at")),
                (
                    "listener_state",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("", "no listener"),
                            ("running", "running"),
                            ("reconnecting", "reconnecting"),
                            ("stopped", "stopped"),
                            ("failed", "failed"),
                        ],
                        default="",
                        max_length=16,
                        verbose_name="listener",
                    ),
                ),
                ("listener_owner", models.CharField(blank=True, default="", max_length=120)),
                ("listener_seen_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={"verbose_name": "channel health", "verbose_name_plural": "channel health"},
        ),
    ]
