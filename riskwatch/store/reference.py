"""Reference data from ``config/`` (regions, categories, staff) mirrored into the store."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session

from riskwatch.config import Settings
from riskwatch.store.cases import dialect_insert
from riskwatch.store.models import Category, Region, Staff


def _upsert(session: Session, table: Table, key: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    stmt = dialect_insert(session, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[key], set_={c: stmt.excluded[c] for c in rows[0] if c != key})
    session.connection().execute(stmt, rows)


def sync_reference(session: Session, settings: Settings) -> None:
    """Upsert regions, categories and staff from ``settings`` (idempotent; rows no longer in config are
    kept, since stored cases and assignments may refer to them)."""
    regions = [{"code": r.code, "name": r.name, "level": str(r.level), "parent_code": r.parent or None}
               for r in sorted(settings.regions.regions.values(), key=lambda r: r.code)]
    categories = [{"code": c.code, "name": c.name, "parent_code": c.parent or None,
                   "aliases": json.dumps(list(c.aliases), ensure_ascii=False)}
                  for c in sorted(settings.taxonomy.categories.values(), key=lambda c: c.code)]
    staff = [{"id": s.id, "name": s.name, "title": s.title, "role": s.role, "region_code": s.region,
              "phone": s.phone, "email": s.email, "cap": s.cap}
             for s in sorted(settings.staff, key=lambda s: s.id)]
    _upsert(session, Region.__table__, "code", regions)  # type: ignore[arg-type]
    _upsert(session, Category.__table__, "code", categories)  # type: ignore[arg-type]
    _upsert(session, Staff.__table__, "id", staff)  # type: ignore[arg-type]
