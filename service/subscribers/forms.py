"""Forms of the reader's pages; the same validators serve the admin and the API."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, Length, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from service.subscribers.addresses import InvalidAddress, normalise_email
from service.subscribers.operations import NAME_LIMIT


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes; each choice is a list id."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def valid_email(_form: FlaskForm, field: EmailField) -> None:
    """Refuse text that is not a usable e-mail address."""
    try:
        field.data = normalise_email(field.data or "")
    except InvalidAddress:
        raise ValidationError(
            _l("Dit is geen geldig e-mailadres. Controleer het en probeer het opnieuw.")
        ) from None


def name_length(_form: FlaskForm, field: StringField) -> None:
    """Refuse names longer than we keep."""
    if field.data and len(field.data) > NAME_LIMIT:
        raise ValidationError(
            _l("Een naam mag hoogstens %(n)s tekens lang zijn.", n=NAME_LIMIT)
        )


def at_least_one(_form: FlaskForm, field: SelectMultipleField) -> None:
    """Require one ticked list (without marking every checkbox `required`)."""
    if not field.data:
        raise ValidationError(_l("Kies ten minste één nieuwsbrief."))


LOCALE_CHOICES = [SelectChoice("nl", "Nederlands"), SelectChoice("en", "English")]


class SignupForm(FlaskForm):
    """E-mail, optional name, the public lists, and a honeypot for bots."""

    email = EmailField(
        _l("E-mailadres"),
        validators=[DataRequired(_l("Vul uw e-mailadres in.")), valid_email],
    )
    name = StringField(_l("Naam (niet verplicht)"), validators=[name_length])
    lists = MultiCheckboxField(
        _l("Waarover wilt u mail ontvangen?"),
        coerce=int,
        validators=[at_least_one],
    )
    #: hidden from people by CSS and aria-hidden; bots fill it in
    website = StringField(_l("Laat dit veld leeg"), validators=[Length(max=0)])


class PreferencesForm(FlaskForm):
    """What a reader may change about themselves."""

    name = StringField(_l("Naam"), validators=[name_length])
    locale = SelectField(_l("Taal van de mail"), choices=LOCALE_CHOICES)
    lists = MultiCheckboxField(_l("Ik ontvang"), coerce=int)


class ConfirmEraseForm(FlaskForm):
    """A deliberate tick before everything is erased."""

    sure = BooleanField(
        _l("Ja, wis al mijn gegevens. Dit kan niet ongedaan worden gemaakt."),
        validators=[
            DataRequired(_l("Zet eerst het vinkje als u echt alles wilt wissen."))
        ],
    )


class ButtonForm(FlaskForm):
    """A form that is only a button (with its CSRF token)."""
