"""Forms of the year plan, the issue and its articles."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField
from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    URL,
    DataRequired,
    Length,
    NumberRange,
    Optional,
)


class PlanIssueForm(FlaskForm):
    """A new place in the year plan."""

    title = StringField(_l("Werktitel (niet verplicht)"), validators=[Length(max=200)])
    theme = SelectField(_l("Thema"), coerce=int)
    planned_date = DateField(_l("Verschijningsdatum"), validators=[Optional()])
    contribution_deadline = DateField(
        _l("Deadline voor bijdragen"), validators=[Optional()]
    )


class YearTargetForm(FlaskForm):
    """How many issues the board intends this year."""

    target_issues = IntegerField(
        _l("Aantal nummers dit jaar"),
        validators=[DataRequired(), NumberRange(min=1, max=52)],
    )


class IssueForm(FlaskForm):
    """The issue's own text; `version` guards against overwriting a newer save."""

    version = HiddenField()
    title = StringField(
        _l("Titel"),
        validators=[Length(max=200, message=_l("Hoogstens 200 tekens."))],
    )
    preheader = StringField(
        _l("Voorregel"),
        validators=[Length(max=200, message=_l("Hoogstens 200 tekens."))],
    )
    theme = SelectField(_l("Thema"), coerce=int)
    intro = TextAreaField(_l("Inleiding"))
    planned_date = DateField(_l("Verschijningsdatum"), validators=[Optional()])
    contribution_deadline = DateField(
        _l("Deadline voor bijdragen"), validators=[Optional()]
    )


class ArticleForm(FlaskForm):
    """One article; `version` is the issue's version the editor started from."""

    version = HiddenField()
    title = StringField(
        _l("Titel"),
        validators=[
            DataRequired(_l("Geef het artikel een titel.")),
            Length(max=200, message=_l("Hoogstens 200 tekens.")),
        ],
    )
    body = TextAreaField(_l("Tekst"))
    author = StringField(_l("Auteur"), validators=[Length(max=200)])
    image = FileField(
        _l("Afbeelding (niet verplicht)"),
        validators=[
            FileAllowed(
                ["jpg", "jpeg", "png", "gif", "webp"],
                _l("Kies een afbeelding in JPEG, PNG, GIF of WebP."),
            )
        ],
    )
    image_alt = StringField(
        _l("Beschrijving van de afbeelding"), validators=[Length(max=300)]
    )
    link_url = StringField(
        _l("Link (niet verplicht)"),
        validators=[
            Optional(),
            URL(message=_l("Dit is geen volledig webadres (https://…).")),
            Length(max=500),
        ],
    )
    button_text = StringField(_l("Tekst op de knop"), validators=[Length(max=60)])


class ThemeForm(FlaskForm):
    """A theme and its public description."""

    name = StringField(
        _l("Naam"),
        validators=[DataRequired(_l("Geef het thema een naam.")), Length(max=120)],
    )
    description = TextAreaField(_l("Beschrijving"))
