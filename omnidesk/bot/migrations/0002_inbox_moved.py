# Inbox moved to the inboxes app (same table): the foreign keys point there in Django's state; the
# database is unchanged.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("bot", "0001_initial"),
        ("inboxes", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="botconfig",
                    name="inbox",
                    field=models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="bot_config",
                        to="inboxes.inbox",
                    ),
                ),
                migrations.AlterField(
                    model_name="botturn",
                    name="inbox",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="inboxes.inbox"
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
