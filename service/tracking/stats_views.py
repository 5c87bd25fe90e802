"""The statistics pages: one send, a year side by side, the lists' growth, a CSV."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_date, format_datetime
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from service import audit
from service.db import utcnow
from service.delivery.models import Send
from service.delivery.operations import get_send
from service.editorial.models import Issue, Theme
from service.extensions import db
from service.security import STAFF, roles
from service.tracking import charts, stats

bp = Blueprint("stats", __name__, url_prefix="/admin/stats")

#: the years a page can be asked for (year 1 or 9999 has no UTC bounds to convert)
FIRST_YEAR, LAST_YEAR = 2000, 2100
#: the hourly chart covers the first two days; the daily one the first week
HOURS_SHOWN = 48


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def _send_stats(send: Send, now: datetime) -> stats.SendStats:
    config = current_app.config
    return stats.send_stats(
        send,
        mode=config["TRACKING_MODE"],
        now=now,
        event_days=config["TRACKING_EVENT_DAYS"],
    )


def _actor() -> str:
    return f"{current_user.display_name} <{current_user.email}>"


def _timeline_charts(send: Send) -> dict[str, object]:
    """Return the daily and hourly charts of a send with the rows of their tables."""
    days = stats.timeline(send, hours=24, buckets=stats.TIMELINE_DAYS)
    hours = stats.timeline(send, hours=1, buckets=HOURS_SHOWN)
    day_labels = [_("dag %(n)s", n=i + 1) for i in range(len(days))]
    hour_labels = [format_datetime(b.start, "EEE HH:mm") for b in hours]
    opens, clicks = _("Openen"), _("Klikken")
    daily = charts.bar_chart(
        "chart-days",
        _("Openen en klikken per dag, de eerste %(n)s dagen", n=len(days)),
        _("Dag 1 begint bij het uur waarin het eerste bericht werd afgeleverd."),
        day_labels,
        [
            charts.Series(opens, [b.opens for b in days]),
            charts.Series(clicks, [b.clicks for b in days]),
        ],
    )
    hourly = charts.line_chart(
        "chart-hours",
        _("Openen en klikken per uur, de eerste %(n)s uur", n=len(hours)),
        _("Tijden in %(zone)s.", zone=current_app.config["TIMEZONE"]),
        hour_labels,
        [
            charts.Series(opens, [b.opens for b in hours]),
            charts.Series(clicks, [b.clicks for b in hours]),
        ],
    )
    return {
        # Built from escaped text only (see charts): safe to put in the page as is.
        "daily_chart": Markup(daily),  # noqa: S704
        "daily_rows": list(zip(day_labels, days, strict=True)),
        "hourly_chart": Markup(hourly),  # noqa: S704
        "hourly_rows": list(zip(hour_labels, hours, strict=True)),
    }


def _growth_chart(item: stats.ListGrowth, labels: list[str]) -> Markup:
    """Return a list's signups, confirmations and departures per month as a chart."""
    months = item.months
    chart = charts.line_chart(
        f"chart-list-{item.list_id}",
        _("%(name)s: aanmeldingen, bevestigingen en afmeldingen", name=item.name),
        _("Kalendermaanden in %(zone)s.", zone=current_app.config["TIMEZONE"]),
        labels,
        [
            charts.Series(_("Aanmeldingen"), [m.signups for m in months]),
            charts.Series(_("Bevestigingen"), [m.confirmations for m in months]),
            charts.Series(_("Afmeldingen"), [m.departures for m in months]),
        ],
    )
    return Markup(chart)  # noqa: S704 - built from escaped text only


@bp.get("/")
@roles(*STAFF)
def index() -> Response:
    """Go to this year's statistics."""
    return redirect(url_for("stats.year", year=datetime.now(_zone()).year))


@bp.get("/sends/<int:send_id>")
@roles(*STAFF)
def send(send_id: int) -> str:
    """Show a send's numbers, its links as a heat list, its first days and sources."""
    item = get_send(send_id)
    issue = db.session.get(Issue, item.issue_id) if item.issue_id else None
    numbers = _send_stats(item, utcnow())
    heat = [
        (link, Markup(charts.heat_bar(link.clicks, numbers.most_clicks)))  # noqa: S704
        for link in numbers.links
    ]
    return render_template(
        "admin/stats/send.html",
        send=item,
        issue=issue,
        numbers=numbers,
        heat=heat,
        sources=stats.send_sources(item.id),
        ranking_rows=stats.RANKING_ROWS,
        mode=current_app.config["TRACKING_MODE"],
        event_days=current_app.config["TRACKING_EVENT_DAYS"],
        **_timeline_charts(item),
    )


@bp.get("/sends/<int:send_id>.csv")
@roles(*STAFF)
def send_csv(send_id: int) -> Response:
    """Download a send's numbers and its clicks per link as CSV (no personal data)."""
    item = get_send(send_id)
    body = stats.csv_text(_send_stats(item, utcnow()), stats.send_sources(item.id))
    # Counts only, but a download leaves the system: say who took it.
    audit.record(_actor(), "export.send_stats", item.subject, send_id=item.id)
    db.session.commit()
    return Response(
        body,
        mimetype="text/csv",
        headers={
            "Content-Disposition": (
                f'attachment; filename="verzending-{item.id}-statistieken.csv"'
            )
        },
    )


@bp.get("/<int:year>")
@roles(*STAFF)
def year(year: int) -> str:
    """Compare a year's issues side by side, and show the lists' growth per month."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        abort(404)
    themes = db.session.scalars(select(Theme).order_by(Theme.name)).all()
    chosen = None
    if slug := request.args.get("theme", ""):
        chosen = next((t for t in themes if t.slug == slug), None)
        if chosen is None:
            abort(404)
    now = utcnow()
    config = current_app.config
    issues = stats.year_stats(
        year,
        theme_id=chosen.id if chosen else None,
        mode=config["TRACKING_MODE"],
        now=now,
        event_days=config["TRACKING_EVENT_DAYS"],
    )
    comparison = charts.bar_chart(
        "chart-issues",
        _("Openen en klikken per nummer in %(year)s", year=year),
        _("Door mensen; scanners en voorvertoningen tellen apart."),
        [item.label for item in issues],
        [
            charts.Series(_("Openen"), [i.stats.opens.total for i in issues]),
            charts.Series(_("Klikken"), [i.stats.clicks.total for i in issues]),
        ],
    )
    zone = _zone()
    growth = stats.list_growth(year, zone=zone, today=datetime.now(zone).date())
    month_labels = (
        [format_date(m.month, "MMM") for m in growth[0].months] if growth else []
    )
    growth_charts = [(item, _growth_chart(item, month_labels)) for item in growth]
    return render_template(
        "admin/stats/year.html",
        year=year,
        themes=themes,
        chosen=chosen,
        issues=issues,
        comparison=Markup(comparison) if issues else None,  # noqa: S704
        growth=growth_charts,
        mode=config["TRACKING_MODE"],
    )
