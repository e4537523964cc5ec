"""The swap (truststores.deploy): atomic write, reload command, failures kept visible and
retried, idempotence, no targets; against PostgreSQL."""

from __future__ import annotations

import stat
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.roles import Role
from audit.models import AuditEvent
from config.errors import Conflict, Forbidden
from pki.models import Domain
from tests.conftest import MakeUser
from tests.truststores.certs import good_bundle
from truststores import deploy, services
from truststores.models import Deployment, DeploymentTarget, TruststoreRequest

State = TruststoreRequest.State


@pytest.fixture
def sam(domain: Domain, make_user: MakeUser) -> User:
    return make_user("sam", Role.RA_OFFICER, domain)


@pytest.fixture
def ann(domain: Domain, make_user: MakeUser) -> User:
    return make_user("ann", Role.APPROVER, domain)


def approved(domain: Domain, sam: User, ann: User, kind: str = "mtls") -> TruststoreRequest:
    request = services.submit(
        domain, sam, name="roots", truststore_type=kind, bundle=good_bundle(kind)
    )
    request = services.approve(request, ann)
    assert request.state == State.APPROVED
    return request


def target(domain: Domain, path: Path, command: list[str], kind: str = "mtls") -> DeploymentTarget:
    return DeploymentTarget.objects.create(
        domain=domain, truststore_type=kind, path=str(path), reload_command=command
    )


def actions(request: TruststoreRequest) -> list[str]:
    return list(
        AuditEvent.objects.filter(
            object_id=str(request.approval_id), action__startswith="truststores."
        )
        .order_by("id")
        .values_list("action", flat=True)
    )


@pytest.mark.django_db
def test_the_bundle_is_written_atomically_and_the_reload_runs(
    domain: Domain, sam: User, ann: User, tmp_path: Path
) -> None:
    out = tmp_path / "mtls.pem"
    out.write_text("old")
    log = tmp_path / "reload.log"
    target(domain, out, ["sh", "-c", f"echo reloaded >> {log}"])
    request = approved(domain, sam, ann)

    assert deploy.deploy(request.pk) == deploy.Outcome.READY

    request.refresh_from_db()
    assert request.state == State.READY and request.ready_at is not None and request.error == ""
    assert out.read_text() == request.bundle
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left
    assert log.read_text() == "reloaded\n"
    assert services.deployed(domain, "mtls") == request
    assert actions(request)[-1] == "truststores.request.ready"
    (deployment,) = Deployment.objects.filter(request=request)
    assert deployment.state == Deployment.State.DONE and deployment.attempts == 1


@pytest.mark.django_db
def test_a_second_run_changes_nothing(domain: Domain, sam: User, ann: User, tmp_path: Path) -> None:
    log = tmp_path / "reload.log"
    target(domain, tmp_path / "mtls.pem", ["sh", "-c", f"echo reloaded >> {log}"])
    request = approved(domain, sam, ann)
    assert deploy.deploy(request.pk) == deploy.Outcome.READY
    assert deploy.deploy(request.pk) == deploy.Outcome.READY
    assert log.read_text() == "reloaded\n"
    assert actions(request).count("truststores.request.ready") == 1


@pytest.mark.django_db
def test_a_failure_stays_visible_and_a_retry_finishes(
    domain: Domain, sam: User, ann: User, tmp_path: Path
) -> None:
    good_log = tmp_path / "good.log"
    target(domain, tmp_path / "a.pem", ["sh", "-c", f"echo ok >> {good_log}"])
    broken = target(domain, tmp_path / "b.pem", ["sh", "-c", "echo 'bad config' >&2; exit 3"])
    request = approved(domain, sam, ann)

    assert deploy.deploy(request.pk) == deploy.Outcome.FAILED
    request.refresh_from_db()
    assert request.state == State.APPROVED
    assert "bad config" in request.error and "exited with 3" in request.error
    assert services.deployed(domain, "mtls") is None
    failed = Deployment.objects.get(request=request, target=broken)
    assert failed.state == Deployment.State.FAILED and "bad config" in failed.error
    assert actions(request)[-1] == "truststores.deploy.failed"

    # The operator fixes the reload; the retry redoes only the failed target.
    broken.reload_command = ["true"]
    broken.save()
    with pytest.raises(Forbidden):
        deploy.retry(request, sam)
    deploy.retry(request, ann)  # queues the task (memory broker in tests)
    assert actions(request)[-1] == "truststores.deploy.retried"
    assert deploy.deploy(request.pk) == deploy.Outcome.READY
    request.refresh_from_db()
    assert request.state == State.READY and request.error == ""
    assert good_log.read_text() == "ok\n"
    assert Deployment.objects.get(request=request, target=broken).attempts == 2
    with pytest.raises(Conflict):
        deploy.retry(request, ann)


@pytest.mark.django_db
def test_a_missing_command_or_directory_fails_cleanly(
    domain: Domain, sam: User, ann: User, tmp_path: Path
) -> None:
    target(domain, tmp_path / "missing" / "x.pem", [])
    target(domain, tmp_path / "y.pem", ["/nonexistent/reload"])
    request = approved(domain, sam, ann)
    assert deploy.deploy(request.pk) == deploy.Outcome.FAILED
    request.refresh_from_db()
    assert "writing the bundle failed" in request.error
    assert "could not run" in request.error


@pytest.mark.django_db
def test_no_targets_means_ready_at_once_and_types_are_independent(
    domain: Domain, sam: User, ann: User, tmp_path: Path
) -> None:
    target(domain, tmp_path / "est.pem", ["false"], kind="est")
    DeploymentTarget.objects.create(
        domain=domain, truststore_type="mtls", path=str(tmp_path / "off.pem"), enabled=False
    )
    mtls = approved(domain, sam, ann, "mtls")
    est = approved(domain, sam, ann, "est")
    assert deploy.deploy(mtls.pk) == deploy.Outcome.READY  # the disabled target is skipped
    assert deploy.deploy(est.pk) == deploy.Outcome.FAILED
    mtls.refresh_from_db()
    est.refresh_from_db()
    assert mtls.state == State.READY and est.state == State.APPROVED
    assert not (tmp_path / "off.pem").exists()


@pytest.mark.django_db
def test_only_an_approved_request_is_deployed(domain: Domain, sam: User, tmp_path: Path) -> None:
    out = tmp_path / "mtls.pem"
    target(domain, out, [])
    request = services.submit(
        domain, sam, name="roots", truststore_type="mtls", bundle=good_bundle()
    )
    assert deploy.deploy(request.pk) == deploy.Outcome.SKIPPED
    assert not out.exists()
    assert deploy.deploy(10**9) == deploy.Outcome.SKIPPED


@pytest.mark.django_db
def test_the_api_retries_a_failed_swap(
    domain: Domain,
    sam: User,
    ann: User,
    tmp_path: Path,
    api_client_for: Callable[[User], APIClient],
) -> None:
    target(domain, tmp_path / "mtls.pem", ["false"])
    request = approved(domain, sam, ann)
    assert deploy.deploy(request.pk) == deploy.Outcome.FAILED
    url = f"/api/v1/truststore-requests/{request.pk}/deploy"
    assert api_client_for(sam).post(url).status_code == 403
    answer = api_client_for(ann).post(url)
    assert answer.status_code == 202, answer.content
    assert answer.json()["state"] == "Approved"
    assert "exited with 1" in answer.json()["error"]


@pytest.mark.django_db
def test_an_older_approval_never_overwrites_a_newer_ready_bundle(
    domain: Domain, sam: User, ann: User, tmp_path: Path
) -> None:
    out = tmp_path / "mtls.pem"
    broken = target(domain, out, ["false"])
    older = approved(domain, sam, ann)
    assert deploy.deploy(older.pk) == deploy.Outcome.FAILED
    broken.reload_command = []
    broken.save()
    newer = approved(domain, sam, ann)
    assert deploy.deploy(newer.pk) == deploy.Outcome.READY
    newer_bundle = out.read_text()

    # Its message arrives late, or someone asks for a retry: the newer bundle stays.
    assert deploy.deploy(older.pk) == deploy.Outcome.SKIPPED
    older.refresh_from_db()
    assert older.state == State.APPROVED
    assert older.error.startswith(f"superseded: request #{newer.pk}")
    assert out.read_text() == newer_bundle
    assert services.deployed(domain, "mtls") == newer
    assert actions(older)[-1] == "truststores.deploy.superseded"
    with pytest.raises(Conflict) as refused:
        deploy.retry(older, ann)
    assert refused.value.code == "superseded"
    deploy.deploy(older.pk)  # recorded once, not on every late message
    assert actions(older).count("truststores.deploy.superseded") == 1


@pytest.mark.django_db
def test_beat_requeues_an_approval_whose_message_was_lost(
    domain: Domain, sam: User, ann: User, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from truststores import tasks

    queued: list[int] = []
    monkeypatch.setattr(tasks.deploy_request, "delay", queued.append)
    lost = approved(domain, sam, ann)
    failed = approved(domain, sam, ann, "est")
    TruststoreRequest.objects.filter(pk=failed.pk).update(error="deployment failed: x")
    assert tasks.requeue_approved(older_than_seconds=120) == 0  # both too recent
    past = timezone.now() - timedelta(minutes=5)
    TruststoreRequest.objects.filter(pk__in=[lost.pk, failed.pk]).update(decided_at=past)
    assert tasks.requeue_approved(older_than_seconds=120) == 1
    assert queued == [lost.pk]  # the failed one waits for a person's retry
