"""Forms of the reader's pages; the same validators serve the admin and the API."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
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


#: the choice offered for personal tracking, in plain words (TRACKING_MODE=personal)
TRACKING_CONSENT = _l(
    "Ja, jullie mogen bijhouden of ik de nieuwsbrief open en op welke links ik klik, "
    "om de nieuwsbrief beter te maken."
)

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
    #: personal open and click statistics; shown only when TRACKING_MODE is personal
    tracking = BooleanField(TRACKING_CONSENT)
    #: hidden from people by CSS and aria-hidden; bots fill it in
    website = StringField(_l("Laat dit veld leeg"), validators=[Length(max=0)])


class PreferencesForm(FlaskForm):
    """What a reader may change about themselves."""

    name = StringField(_l("Naam"), validators=[name_length])
    locale = SelectField(_l("Taal van de mail"), choices=LOCALE_CHOICES)
    lists = MultiCheckboxField(_l("Ik ontvang"), coerce=int)
    #: shown only when TRACKING_MODE is personal
    tracking = BooleanField(TRACKING_CONSENT)


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


# Admin forms -------------------------------------------------------------------------

STATUS_CHOICES = [
    SelectChoice("", _l("alle")),
    SelectChoice("pending", _l("wacht op bevestiging")),
    SelectChoice("active", _l("actief")),
    SelectChoice("unsubscribed", _l("afgemeld")),
    SelectChoice("bounced", _l("onbestelbaar")),
    SelectChoice("complained", _l("klacht (spam)")),
]


def consent_stated(form: FlaskForm, field: BooleanField) -> None:
    """Require a source of consent next to the attestation, and the reverse."""
    source = (form.consent_source.data or "").strip()
    if field.data and not source:
        raise ValidationError(
            _l("Schrijf op waar en wanneer de toestemming is gegeven.")
        )
    if source and not field.data:
        raise ValidationError(
            _l("Verklaar dat deze toestemming is gegeven, of laat de bron leeg.")
        )


class SubscriberFilterForm(FlaskForm):
    """Search and filters of the readers' list (GET, so without CSRF)."""

    class Meta:
        csrf = False

    q = StringField(_l("Zoeken op adres of naam"))
    status = SelectField(_l("Status"), choices=STATUS_CHOICES, default="")
    list_id = SelectField(_l("Lijst"), choices=[], default="")
    province = SelectField(_l("Provincie"), choices=[], default="")


class AddSubscriberForm(FlaskForm):
    """An editor adds a reader by hand, attesting the consent or asking for it."""

    email = EmailField(
        _l("E-mailadres"),
        validators=[DataRequired(_l("Vul een e-mailadres in.")), valid_email],
    )
    name = StringField(_l("Naam"), validators=[name_length])
    province = StringField(_l("Provincie"), validators=[Length(max=40)])
    lists = MultiCheckboxField(_l("Lijsten"), coerce=int, validators=[at_least_one])
    consent_source = StringField(
        _l("Bron van de toestemming"),
        validators=[Length(max=500)],
    )
    attest = BooleanField(
        _l(
            "Ik verklaar dat deze persoon toestemming heeft gegeven om deze mail te "
            "ontvangen."
        ),
        validators=[consent_stated],
    )


class ImportForm(FlaskForm):
    """Upload a CSV file into one list, with or without stated consent."""

    file = FileField(
        _l("CSV-bestand"),
        validators=[
            FileRequired(_l("Kies een bestand.")),
            FileAllowed(["csv", "txt"], _l("Alleen .csv- of .txt-bestanden.")),
        ],
    )
    list_id = SelectField(_l("Lijst"), coerce=int)
    consent_source = StringField(
        _l("Bron van de toestemming"),
        validators=[Length(max=500)],
    )
    attest = BooleanField(
        _l(
            "Ik verklaar dat alle mensen in dit bestand toestemming hebben gegeven "
            "om deze mail te ontvangen."
        ),
        validators=[consent_stated],
    )


class ExportForm(FlaskForm):
    """The export button; the filters travel as hidden fields."""

    q = HiddenField()
    status = HiddenField()
    list_id = HiddenField()
    province = HiddenField()


class EraseSubscriberForm(FlaskForm):
    """A deliberate tick before an editor erases a reader."""

    sure = BooleanField(
        _l(
            "Ja, wis deze lezer en alle gegevens. Dit kan niet ongedaan worden gemaakt."
        ),
        validators=[DataRequired(_l("Zet eerst het vinkje."))],
    )
