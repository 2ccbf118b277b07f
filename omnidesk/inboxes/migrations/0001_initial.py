# The Inbox model moves from the connectors app to its own (docs/decisions/0006-app-layers.md): first in
# Django's state only, over the table as it is; 0002 renames the table.

import uuid

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0001_initial"),
        ("connectors", "0003_inbound_journal"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Inbox",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("uuid", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                        ("name", models.CharField(max_length=100, verbose_name="name")),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("email", "E-mail"),
                                    ("webchat", "Web chat"),
                                    ("sms", "SMS"),
                                    ("whatsapp", "WhatsApp"),
                                    ("messenger", "Messenger"),
                                    ("instagram", "Instagram"),
                                    ("telegram", "Telegram"),
                                    ("x", "X"),
                                    ("voice", "Phone"),
                                    ("video", "Video"),
                                    ("webform", "Web form"),
                                    ("api", "API"),
                                ],
                                max_length=16,
                                verbose_name="channel",
                            ),
                        ),
                        ("enabled", models.BooleanField(default=True, verbose_name="enabled")),
                        ("settings", models.JSONField(blank=True, default=dict, verbose_name="settings")),
                        ("secrets_encrypted", models.TextField(blank=True, default="")),
                        (
                            "business_hours",
                            models.JSONField(blank=True, default=dict, verbose_name="business hours"),
                        ),
                        ("greeting", models.TextField(blank=True, verbose_name="greeting")),
                        (
                            "auto_acknowledgement",
                            models.TextField(
                                blank=True,
                                help_text=(
                                    "Sent once when a customer's message opens a conversation. {expected_reply} "
                                    "becomes the expected reply time in the customer's language; leave empty to "
                                    "send nothing."
                                ),
                                verbose_name="auto-acknowledgement",
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "agents",
                            models.ManyToManyField(
                                blank=True, related_name="inboxes", to="accounts.agentprofile"
                            ),
                        ),
                        (
                            "default_team",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="inboxes",
                                to="accounts.team",
                            ),
                        ),
                    ],
                    options={"verbose_name_plural": "inboxes", "db_table": "connectors_inbox"},
                ),
            ],
            database_operations=[],
        ),
    ]
