"""The lean responder's memory: pre-signed responses by CertID (CA, serial), kept fresh by
polling OcspResponse.updated_at (pki.ocsp.server polls every second). Read on the event
loop, filled from the database in pool threads."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from pki.models import CertificateAuthority, OcspResponse
from pki.services import ocsp_respond
from pki.services.ocsp_respond import Miss, Stored

# Rows committed late (a revoke transaction that took a while) still carry an updated_at
# from before they became visible: each poll looks back this far.
POLL_OVERLAP = timedelta(seconds=10)

Key = tuple[int, str]


class ResponseCache:
    """(CA id, serial) → (response, its updated_at); bounded, oldest dropped first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: dict[Key, tuple[Stored, datetime]] = {}
        self.since: datetime | None = None
        self.lock = threading.Lock()

    def get(self, ca_id: int, serial: str) -> Stored | None:
        found = self.items.get((ca_id, serial))
        if found is None:
            raise Miss(serial)
        return found[0]

    def put(self, key: Key, stored: Stored, updated_at: datetime) -> None:
        with self.lock:
            self.items[key] = (stored, updated_at)
            while len(self.items) > self.size:
                del self.items[next(iter(self.items))]

    def fetch(self, ca_id: int, serial: str) -> Stored | None:
        """From the database (a pool thread), remembered for the event loop."""
        fields = ("updated_at", *ocsp_respond.STORED_FIELDS)
        row = OcspResponse.objects.filter(ca_id=ca_id, serial=serial).values_list(*fields)
        found = row.first()
        if found is None:
            return None
        stored = ocsp_respond.stored_of(found[1:])
        self.put((ca_id, serial), stored, found[0])
        return stored

    def load(self, rows: int) -> None:
        """The most recently signed responses, before the first request."""
        self.since = self._db_now()
        fields = ("ca_id", "serial", "updated_at", *ocsp_respond.STORED_FIELDS)
        query = OcspResponse.objects.filter(next_update__gt=self.since).order_by("-updated_at")
        for ca_id, serial, updated_at, *rest in query.values_list(*fields)[:rows].iterator():
            self.put((ca_id, serial), ocsp_respond.stored_of(tuple(rest)), updated_at)
        for slug in CertificateAuthority.objects.values_list("slug", flat=True):
            ocsp_respond.issuer_from_db(slug)

    def poll(self) -> int:
        """Replace the responses re-signed since the last poll; returns how many."""
        if self.since is None:
            self.since = self._db_now()
        changed = OcspResponse.objects.filter(updated_at__gte=self.since - POLL_OVERLAP)
        stale: list[str] = []
        newest = self.since
        for ca_id, serial, updated_at in changed.values_list("ca_id", "serial", "updated_at"):
            newest = max(newest, updated_at)
            found = self.items.get((ca_id, serial))
            if found is not None and found[1] < updated_at:
                stale.append(serial)
        for start in range(0, len(stale), 500):
            fields = ("ca_id", "serial", "updated_at", *ocsp_respond.STORED_FIELDS)
            rows = OcspResponse.objects.filter(serial__in=stale[start : start + 500])
            for ca_id, serial, updated_at, *rest in rows.values_list(*fields):
                if (ca_id, serial) in self.items:
                    self.put((ca_id, serial), ocsp_respond.stored_of(tuple(rest)), updated_at)
        self.since = newest
        return len(stale)

    @staticmethod
    def _db_now() -> datetime:
        return datetime.now().astimezone()
