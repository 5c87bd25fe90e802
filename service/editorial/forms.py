"""Forms of the account pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo


class LoginForm(FlaskForm):
    """Address and password."""

    email = EmailField(
        _l("E-mailadres"), validators=[DataRequired(_l("Vul uw e-mailadres in."))]
    )
    password = PasswordField(
        _l("Wachtwoord"), validators=[DataRequired(_l("Vul uw wachtwoord in."))]
    )


class PasswordForm(FlaskForm):
    """The current password and a new one, twice."""

    current = PasswordField(_l("Huidig wachtwoord"), validators=[DataRequired()])
    password = PasswordField(_l("Nieuw wachtwoord"), validators=[DataRequired()])
    repeat = PasswordField(
        _l("Nieuw wachtwoord, nogmaals"),
        validators=[
            EqualTo("password", _l("De twee nieuwe wachtwoorden verschillen."))
        ],
    )
