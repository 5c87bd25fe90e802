"""The admin's pages about readers: list, search, one reader, add, import, export."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlalchemy import or_, select

from service.extensions import db
from service.security import STAFF, roles
from service.subscribers.models import Subscriber

bp = Blueprint("subscribers_admin", __name__, url_prefix="/admin/subscribers")

PAGE_SIZE = 50


@bp.get("/")
@roles(*STAFF)
def index() -> str:
    """A searchable list of readers."""
    query = select(Subscriber).order_by(Subscriber.created_at.desc())
    term = (request.args.get("q") or "").strip()
    if term:
        like = f"%{term.lower()}%"
        query = query.where(
            or_(Subscriber.email.like(like), Subscriber.name.ilike(like))
        )
    subscribers = db.paginate(query, per_page=PAGE_SIZE, error_out=False)
    return render_template(
        "admin/subscribers/index.html", subscribers=subscribers, q=term
    )
