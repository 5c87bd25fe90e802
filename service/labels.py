"""Words for stored values (statuses, roles, methods) in the reader's language."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

LABELS = {
    # subscriber and membership statuses
    "pending": _l("wacht op bevestiging"),
    "active": _l("actief"),
    "unsubscribed": _l("afgemeld"),
    "bounced": _l("onbestelbaar"),
    "complained": _l("klacht (spam)"),
    # issue statuses
    "planned": _l("gepland"),
    "draft": _l("in bewerking"),
    "in_review": _l("ter controle"),
    "approved": _l("goedgekeurd"),
    "scheduled": _l("ingepland"),
    "sending": _l("wordt verstuurd"),
    "sent": _l("verstuurd"),
    "cancelled": _l("vervallen"),
    # send and delivery statuses ("sending" and "cancelled" as for issues)
    "paused": _l("gepauzeerd"),
    "done": _l("klaar"),
    "queued": _l("in de wachtrij"),
    "deferred": _l("later opnieuw"),
    "failed": _l("geweigerd"),
    "skipped": _l("overgeslagen"),
    "quarantined": _l("apart gezet"),
    # contribution statuses
    "submitted": _l("ingediend"),
    "accepted": _l("overgenomen"),
    "returned": _l("teruggestuurd"),
    # roles
    "admin": _l("beheerder"),
    "editor": _l("redacteur"),
    "correspondent": _l("correspondent"),
    # consent methods
    "double-opt-in": _l("aanmelding met bevestiging per e-mail"),
    "import": _l("import met opgegeven toestemming"),
    "link": _l("bevestigingslink"),
    "preferences": _l("voorkeurenpagina"),
}


#: words for values that mean something else in another column
LABELS_BY_KIND = {
    "method": {"admin": _l("toegevoegd door de redactie")},
}


def label(value: object, kind: str = "") -> str:
    """Return the word for a stored value, or the value itself when none is known."""
    key = str(value)
    words = LABELS_BY_KIND.get(kind, {})
    if key in words:
        return str(words[key])
    return str(LABELS[key]) if key in LABELS else key
