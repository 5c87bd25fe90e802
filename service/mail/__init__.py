"""The transport: building messages with the standard library and handing them over.

Knows nothing of readers or issues. With MAIL_SERVER unset, messages go to the dev
outbox (`.eml` files under instance/outbox); otherwise over SMTP.
"""
