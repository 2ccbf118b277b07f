# Inbox moved to the inboxes app (same table): the foreign keys point there in Django's state; the
# database is unchanged.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0002_routing_and_sla_fields"),
        ("inboxes", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="conversation",
                    name="current_inbox",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="inboxes.inbox",
                        verbose_name="last channel",
                    ),
                ),
                migrations.AlterField(
                    model_name="message",
                    name="inbox",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="inboxes.inbox",
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
