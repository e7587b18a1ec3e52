"""One-tap links already used: persistence only (signing and checking live in console.links)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from jingyu.timeutil import as_utc_naive, from_db
from warehouse.models import LinkUse
from warehouse.store import Warehouse


@dataclass(frozen=True)
class UsedLink:
    link_id: str
    incident_id: int
    recipient: str
    action: str
    used_at: datetime


class LinkLedger:
    """The link_uses table of one warehouse."""

    def __init__(self, warehouse: Warehouse) -> None:
        self._session = sessionmaker(warehouse.engine, expire_on_commit=False)

    def spend(self, link_id: str, incident_id: int, recipient: str, action: str,
              now: datetime) -> UsedLink | None:
        """Record the link as used; None if it was used before (by anyone, in any process:
        the primary key decides, so two taps at once cannot both pass)."""
        try:
            with self._session.begin() as session:
                session.add(LinkUse(link_id=link_id, incident_id=incident_id,
                                    recipient=recipient, action=action,
                                    used_at=as_utc_naive(now)))
        except IntegrityError:
            return None
        return UsedLink(link_id, incident_id, recipient, action, now)

    def used(self, link_id: str) -> UsedLink | None:
        with self._session() as session:
            row = session.scalar(select(LinkUse).where(LinkUse.link_id == link_id))
            if row is None:
                return None
            used_at = from_db(row.used_at)
            assert used_at is not None
            return UsedLink(row.link_id, row.incident_id, row.recipient, row.action, used_at)
