from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0001_initial"),
        ("connectors", "0004_models_moved"),
    ]

    operations = [
        migrations.AlterModelTable(name="journalentry", table=None),
    ]
