"""Send one e-mail over SMTP as the settings say: plain, STARTTLS or SSL; log in only with a username."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from config.settings import SmtpSettings


class MailError(RuntimeError):
    """The message was not accepted; the text says why (never the password)."""


def send(message: EmailMessage, smtp: SmtpSettings, ssl_context: ssl.SSLContext | None = None) -> None:
    context = ssl_context or ssl.create_default_context()
    try:
        if smtp.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout_seconds,
                                                    context=context)
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds)
        with client:
            if smtp.security == "starttls":
                client.starttls(context=context)
            if smtp.username:
                password = smtp.password.get_secret_value() if smtp.password else ""
                client.login(smtp.username, password)
            refused = client.send_message(message)
            if refused:
                raise MailError(f"the server refused {', '.join(sorted(refused))}")
    except (smtplib.SMTPException, OSError) as exc:
        raise MailError(f"SMTP {smtp.host}:{smtp.port} failed: {type(exc).__name__}: {_reason(exc)}") from exc


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        detail = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        return f"{exc.smtp_code} {detail}"
    return str(exc) or "connection failed"
