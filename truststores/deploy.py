"""The swap (issue 5, item 5): an approved request's bundle onto its type's deployment targets.

deploy() is idempotent and safe to run twice at once: it holds the request's row lock and the
targets' row locks (so two requests of one type never write the same file together), skips
every target already done for the request, and for each other enabled target of the request's
domain and type writes the bundle atomically (a temporary file in the same directory, fsync,
os.replace, mode 0644) and runs the target's reload command (no shell, with a timeout). When
every target is done the request is Ready; a failure leaves it Approved with the error on the
request and on the target's Deployment, for a retry (truststores.tasks, retry()). A domain
with no targets for a type is Ready at once: the API's deployed bundle is then the only
consumer. Types are independent: each has its own targets and its own requests.

The newest approval wins: a request approved before one that is already Ready (its swap
failed, or its message was late) is superseded and never deployed over the newer bundle;
rolling back is a new request with the old bundle, which goes through approval again.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
from enum import StrEnum
from pathlib import Path

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.roles import Perm, has_perm
from audit.services import record
from config.errors import Conflict, Forbidden
from truststores.models import Deployment, DeploymentTarget, TruststoreRequest

logger = logging.getLogger(__name__)

RELOAD_TIMEOUT = 30  # seconds
State = TruststoreRequest.State


class DeployError(Exception):
    pass


class Outcome(StrEnum):
    READY = "ready"  # now or before
    FAILED = "failed"  # a target failed: still Approved, with the error (retry)
    SKIPPED = "skipped"  # not approved (any more), unknown, or superseded


def deploy(request_id: int) -> Outcome:
    """Deploy an approved request to its targets."""
    with transaction.atomic():
        request = (
            TruststoreRequest.objects.select_for_update(of=("self",))
            .select_related("domain", "approval")
            .filter(pk=request_id)
            .first()
        )
        if request is None:
            return Outcome.SKIPPED
        if request.state == State.READY:
            return Outcome.READY
        if request.state != State.APPROVED:
            return Outcome.SKIPPED
        newer = superseded_by(request)
        if newer is not None:
            _supersede(request, newer)
            return Outcome.SKIPPED
        targets = list(
            DeploymentTarget.objects.select_for_update()
            .filter(domain=request.domain, truststore_type=request.truststore_type, enabled=True)
            .order_by("id")
        )
        errors: list[str] = []
        for target in targets:
            deployment, _ = Deployment.objects.get_or_create(request=request, target=target)
            if deployment.state == Deployment.State.DONE:
                continue
            deployment.attempts += 1
            try:
                _deploy_to(target, request.bundle)
            except DeployError as exc:
                deployment.state = Deployment.State.FAILED
                deployment.error = str(exc)
                errors.append(f"{target.path}: {exc}")
            else:
                deployment.state = Deployment.State.DONE
                deployment.error = ""
            deployment.save(update_fields=["state", "error", "attempts", "updated_at"])
        subject = request.approval if request.approval is not None else request
        details = {
            "truststore_request": request.pk,
            "truststore_type": request.truststore_type,
            "targets": [t.path for t in targets],
        }
        if errors:
            request.error = "deployment failed: " + "; ".join(errors)
            request.save(update_fields=["error"])
            record(
                "truststores.deploy.failed",
                domain=request.domain,
                obj=subject,
                details={**details, "errors": errors},
            )
            return Outcome.FAILED
        request.state = State.READY
        request.ready_at = timezone.now()
        request.error = ""
        request.save(update_fields=["state", "ready_at", "error"])
        record("truststores.request.ready", domain=request.domain, obj=subject, details=details)
        return Outcome.READY


def superseded_by(request: TruststoreRequest) -> TruststoreRequest | None:
    """A request of the same domain and type, approved after this one, that is Ready."""
    later = Q(decided_at__gt=request.decided_at) | Q(
        decided_at=request.decided_at, pk__gt=request.pk
    )
    return (
        TruststoreRequest.objects.filter(
            domain=request.domain, truststore_type=request.truststore_type, state=State.READY
        )
        .filter(later)
        .order_by("-decided_at", "-pk")
        .first()
    )


def _supersede(request: TruststoreRequest, newer: TruststoreRequest) -> None:
    message = (
        f"superseded: request #{newer.pk}, approved later, is deployed; to go back to this "
        "bundle, submit it again as a new request"
    )
    if request.error == message:
        return
    request.error = message
    request.save(update_fields=["error"])
    record(
        "truststores.deploy.superseded",
        domain=request.domain,
        obj=request.approval if request.approval is not None else request,
        details={"truststore_request": request.pk, "superseded_by": newer.pk},
    )


def retry(request: TruststoreRequest, user: User, comment: str = "") -> TruststoreRequest:
    """Queue the swap of an approved request again (after a failure, or a lost message)."""
    from truststores.tasks import deploy_request

    if not has_perm(user, Perm.TRUSTSTORES_APPROVE, request.domain):
        raise Forbidden(
            f"you do not hold {Perm.TRUSTSTORES_APPROVE.value} in domain {request.domain.slug}"
        )
    with transaction.atomic():
        locked = TruststoreRequest.objects.select_for_update().get(pk=request.pk)
        if locked.state != State.APPROVED:
            raise Conflict(
                f"truststore request #{locked.pk} is {locked.state}; only an approved request "
                "is deployed",
                "not_approved",
            )
        newer = superseded_by(locked)
        if newer is not None:
            raise Conflict(
                f"truststore request #{newer.pk}, approved later, is deployed; deploying "
                f"#{locked.pk} would roll it back: submit this bundle again as a new request",
                "superseded",
            )
        record(
            "truststores.deploy.retried",
            actor=user,
            domain=request.domain,
            obj=locked.approval if locked.approval_id is not None else locked,
            details={"truststore_request": locked.pk, "error": locked.error, "comment": comment},
        )
        pk = locked.pk
        transaction.on_commit(lambda: deploy_request.delay(pk), robust=True)
    request.refresh_from_db()
    return request


def _deploy_to(target: DeploymentTarget, bundle: str) -> None:
    if target.kind != DeploymentTarget.Kind.FILE:
        raise DeployError(f"unknown target kind {target.kind!r}")
    try:
        write_atomically(Path(target.path), bundle.encode())
    except OSError as exc:
        raise DeployError(f"writing the bundle failed: {exc}") from None
    command = [str(arg) for arg in (target.reload_command or [])]
    if not command:
        return
    try:
        done = subprocess.run(  # an argument list, never a shell
            command, capture_output=True, timeout=RELOAD_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise DeployError(f"reload command timed out after {RELOAD_TIMEOUT} s") from None
    except OSError as exc:
        raise DeployError(f"reload command could not run: {exc}") from None
    if done.returncode != 0:
        stderr = done.stderr.decode(errors="replace").strip()[-2000:]
        raise DeployError(f"reload command exited with {done.returncode}: {stderr}")


def write_atomically(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Readers see the old file or the new one, never a part: a temporary file in the same
    directory, fsync, rename over the target, fsync of the directory."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fchmod(out.fileno(), mode)
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
