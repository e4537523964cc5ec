from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("pki", "0003_revocation"),
    ]

    operations = [
        migrations.AddField(
            model_name="ocspresponse",
            name="not_after",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="ocspresponse",
            name="reason",
            field=models.CharField(blank=True, max_length=24),
        ),
        migrations.AddField(
            model_name="ocspresponse",
            name="revoked_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
