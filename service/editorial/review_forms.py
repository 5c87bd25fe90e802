"""Forms of the review pages: the test send and the schedule."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectMultipleField, TimeField
from wtforms.validators import InputRequired, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes; each choice is an id."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def at_least_one_recipient(_form: FlaskForm, field: SelectMultipleField) -> None:
    """Require one ticked editor."""
    if not field.data:
        raise ValidationError(_l("Kies ten minste één redacteur."))


def at_least_one_list(_form: FlaskForm, field: SelectMultipleField) -> None:
    """Require one ticked list."""
    if not field.data:
        raise ValidationError(_l("Kies ten minste één lijst."))


class TestSendForm(FlaskForm):
    """Which editors get a test copy."""

    recipients = MultiCheckboxField(
        _l("Stuur een testversie naar"),
        coerce=int,
        validators=[at_least_one_recipient],
    )


class ScheduleForm(FlaskForm):
    """A moment in the organisation's time zone, the audience, and the override."""

    day = DateField(_l("Datum"), validators=[InputRequired(_l("Kies een datum."))])
    clock = TimeField(
        _l("Tijd"), validators=[InputRequired(_l("Kies een tijd, bijvoorbeeld 09:30."))]
    )
    lists = MultiCheckboxField(
        _l("Naar welke lijsten?"), coerce=int, validators=[at_least_one_list]
    )
    #: ticked to send on a public holiday or at night after the warning
    anyway = BooleanField(_l("Toch op dit moment versturen"))
