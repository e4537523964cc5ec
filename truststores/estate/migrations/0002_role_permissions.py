"""Existing domains' role groups get the two estate permissions their roles now carry
(accounts.roles.ROLE_PERMISSIONS; new domains' groups get them when they are created)."""

from django.db import migrations

GRANTS = {
    "estate_manage": ("estate.manage: manage the estate inventory and trust lists",
                      ["admin", "operator", "ra_officer"]),
    "estate_approve": ("estate.approve: approve trust list changes of others",
                       ["admin", "operator", "approver"]),
}


def grant(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    Domain = apps.get_model("pki", "Domain")
    GroupObjectPermission = apps.get_model("guardian", "GroupObjectPermission")
    domain_type, _ = ContentType.objects.get_or_create(app_label="pki", model="domain")
    for codename, (name, roles) in GRANTS.items():
        perm, _ = Permission.objects.get_or_create(
            content_type=domain_type, codename=codename, defaults={"name": name}
        )
        for domain in Domain.objects.all():
            for role in roles:
                group = Group.objects.filter(name=f"{domain.slug}:{role}").first()
                if group is not None:
                    GroupObjectPermission.objects.get_or_create(
                        group=group,
                        permission=perm,
                        content_type=domain_type,
                        object_pk=str(domain.pk),
                    )


class Migration(migrations.Migration):
    dependencies = [
        ("estate", "0001_initial"),
        ("guardian", "0003_remove_groupobjectpermission_guardian_gr_content_ae6aec_idx_and_more"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
