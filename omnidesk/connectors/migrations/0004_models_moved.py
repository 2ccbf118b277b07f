# Inbox moved to the inboxes app and JournalEntry to the ingest app (their migrations 0001): this app
# keeps its migration history and no models. Nothing changes in the database here.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("connectors", "0003_inbound_journal"),
        ("inboxes", "0001_initial"),
        ("ingest", "0001_initial"),
        ("conversations", "0003_inbox_moved"),
        ("bot", "0002_inbox_moved"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="Inbox"),
                migrations.DeleteModel(name="JournalEntry"),
            ],
            database_operations=[],
        ),
    ]
