# The inbound journal's model moves from the connectors app (docs/decisions/0006-app-layers.md): first in
# Django's state only, over the table as it is; 0002 renames the table.

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("connectors", "0003_inbound_journal"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="JournalEntry",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("inbox_id", models.PositiveIntegerField()),
                        ("received_at", models.DateTimeField(verbose_name="received")),
                        ("payload", models.TextField()),
                        ("failed_at", models.DateTimeField(blank=True, null=True, verbose_name="set aside")),
                        ("error", models.TextField(blank=True, default="", verbose_name="error")),
                    ],
                    options={
                        "verbose_name": "inbound journal entry",
                        "verbose_name_plural": "inbound journal",
                        "db_table": "connectors_journalentry",
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
