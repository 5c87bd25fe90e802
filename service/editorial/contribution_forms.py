"""Forms of the contribution pages: sending one in, and the editors' decision."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional


class ContributionForm(FlaskForm):
    """Title, Markdown text, and an optional image with its description."""

    title = StringField(
        _l("Titel"),
        validators=[
            DataRequired(_l("Geef uw bijdrage een titel.")),
            Length(max=200, message=_l("Houd de titel korter dan 200 tekens.")),
        ],
    )
    body = TextAreaField(
        _l("Tekst"),
        validators=[DataRequired(_l("Schrijf de tekst van uw bijdrage."))],
        render_kw={"rows": 14},
    )
    image = FileField(_l("Afbeelding (niet verplicht)"))
    image_alt = StringField(
        _l("Beschrijving van de afbeelding"),
        validators=[
            Optional(),
            Length(max=300, message=_l("Houd de beschrijving onder 300 tekens.")),
        ],
    )


class AcceptForm(FlaskForm):
    """An optional remark for the correspondent when their text is taken."""

    note = TextAreaField(
        _l("Opmerking voor de correspondent (niet verplicht)"),
        render_kw={"rows": 3},
    )


class ReturnForm(FlaskForm):
    """The note that says why a contribution goes back."""

    note = TextAreaField(
        _l("Toelichting voor de correspondent"),
        validators=[
            DataRequired(
                _l("Schrijf erbij waarom, zodat de correspondent weet wat te doen.")
            )
        ],
        render_kw={"rows": 3},
    )
