from django.db import migrations

GENESIS = "0" * 64

# On PostgreSQL the database itself refuses UPDATE and DELETE on audit events (but the
# one-time seal); the hash chain then only has to catch what bypasses it (a superuser
# disabling the trigger, a restored dump, direct file edits).
PG_FORWARD = """
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
BEGIN
  -- The one update allowed: sealing, which fills seq and the hashes of an unsealed row
  -- and changes nothing else (audit.chain.seal).
  IF TG_OP = 'UPDATE' AND OLD.seq IS NULL AND NEW.seq IS NOT NULL
     AND (NEW.id, NEW.time, NEW.actor_id, NEW.actor_name, NEW.domain_id, NEW.domain_slug,
          NEW.action, NEW.object_type, NEW.object_id, NEW.details)
         IS NOT DISTINCT FROM
         (OLD.id, OLD.time, OLD.actor_id, OLD.actor_name, OLD.domain_id, OLD.domain_slug,
          OLD.action, OLD.object_type, OLD.object_id, OLD.details)
  THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'audit events are append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_event_append_only
  BEFORE UPDATE OR DELETE ON audit_auditevent
  FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
"""
PG_REVERSE = """
DROP TRIGGER IF EXISTS audit_event_append_only ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_event_append_only();
"""


def create_head(apps, schema_editor):
    apps.get_model("audit", "ChainHead").objects.get_or_create(pk=1, defaults={"seq": 0, "hash": GENESIS})


def append_only(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_FORWARD)


def drop_append_only(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_REVERSE)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [
        migrations.RunPython(create_head, migrations.RunPython.noop),
        migrations.RunPython(append_only, drop_append_only),
    ]
