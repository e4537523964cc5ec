"""The swap in a real Celery worker (tests/worker.py): approval queues deploy_request on
commit, and the task, delivered twice, deploys once."""

from __future__ import annotations

from pathlib import Path

import pytest

from accounts.roles import Role
from tests import worker as celery_worker
from tests.truststores.certs import good_bundle
from truststores import services, tasks
from truststores.models import DeploymentTarget, TruststoreRequest

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

worker = celery_worker.worker
wait_for = celery_worker.wait_for


def test_approval_queues_the_swap_and_the_worker_makes_it_ready(
    worker, domain, make_user, tmp_path: Path, monkeypatch
) -> None:
    sam = make_user("sam", Role.RA_OFFICER, domain)
    ann = make_user("ann", Role.APPROVER, domain)
    out, log = tmp_path / "mtls.pem", tmp_path / "reload.log"
    DeploymentTarget.objects.create(
        domain=domain,
        truststore_type="mtls",
        path=str(out),
        reload_command=["sh", "-c", f"echo reloaded >> {log}"],
    )
    queued: list[int] = []
    monkeypatch.setattr(tasks.deploy_request, "delay", queued.append)
    request = services.submit(
        domain, sam, name="roots", truststore_type="mtls", bundle=good_bundle()
    )
    assert queued == []
    request = services.approve(request, ann)
    assert request.state == TruststoreRequest.State.APPROVED
    assert queued == [request.pk]  # on commit of the approval

    sent = [worker.send(tasks.deploy_request, request.pk) for _ in range(2)]

    def finished() -> bool:
        text = worker.log.read_text()
        return all(f"truststores.tasks.deploy_request[{r.id}] succeeded" in text for r in sent)

    wait_for(finished, "both deploy_request tasks", worker.log)
    request.refresh_from_db()
    assert request.state == TruststoreRequest.State.READY
    assert out.read_text() == request.bundle
    assert log.read_text() == "reloaded\n"
