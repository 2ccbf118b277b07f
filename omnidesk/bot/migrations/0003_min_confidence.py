from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("bot", "0002_inbox_moved")]

    operations = [
        migrations.RemoveField(model_name="botconfig", name="min_cosine"),
        migrations.RemoveField(model_name="botconfig", name="min_margin"),
        migrations.AddField(
            model_name="botconfig",
            name="min_confidence",
            field=models.FloatField(blank=True, null=True, verbose_name="minimum confidence"),
        ),
    ]
