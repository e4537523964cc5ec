"""CRLs are signatures and random serials: PostgreSQL's compression (pglz) spends a second
on a 50 MB CRL for little gain, on every write and read. Store them uncompressed."""

from django.db import migrations


def external(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE pki_crl ALTER COLUMN der SET STORAGE EXTERNAL")


class Migration(migrations.Migration):
    dependencies = [("pki", "0005_crl_pending")]

    operations = [migrations.RunPython(external, migrations.RunPython.noop)]
