"""The texts of everything the journal sends outside the app.

PRIV-R1 / PRIV-R4: nothing here may carry health information: no condition, substance, drug, session,
appointment, score, mood word, questionnaire or clinic specialty. A message says that there is something to
see and links into the app, where the reader must sign in. tests/test_messages.py renders every template
and fails on any such word.
"""

from __future__ import annotations

TEMPLATES: dict[str, tuple[str, str]] = {
    "daily_reminder": (
        "You have a new check-in",
        "Hello,\n\nYou have a new check-in waiting.\n\n{link}\n\n"
        "You can change the time of these reminders, or pause them, in the app.",
    ),
    "invitation": (
        "Your account is ready to set up",
        "Hello,\n\nAn account has been created for you. Choose your password here:\n\n{link}\n\n"
        "The link works once. If it has expired, ask for a new one. If you were not expecting this message, "
        "you can ignore it.",
    ),
    # Sent to whoever typed the address on the reset page, so it must say nothing but what to do if it was them.
    "password_reset": (
        "Set a new password",
        "Hello,\n\nSomeone asked to set a new password for the account with this e-mail address. If it was you, "
        "choose a new password here:\n\n{link}\n\n"
        "The link works once and only for a short while. If it was not you, you can ignore this message: "
        "your password stays as it is.",
    ),
    "assessment_due": (
        "You have something new to fill in",
        "Hello,\n\nThere is something new for you to fill in.\n\n{link}\n\n"
        "You can change the time of these reminders, or pause them, in the app.",
    ),
    # SPEC 7.5: the evening before a planned visit. What to do before it is shown only inside the app.
    "session_prep": (
        "You have a new message",
        "Hello,\n\nYou have a new message in the app.\n\n{link}\n\n"
        "You can change the time of these reminders, or pause them, in the app.",
    ),
    # KET-R3: the short check the morning after and three days after a visit.
    "side_effect_check": (
        "You have a short check-in",
        "Hello,\n\nThere is a short check-in waiting for you. It takes about a minute.\n\n{link}\n\n"
        "You can change the time of these reminders, or pause them, in the app.",
    ),
    # Clinicians' alert e-mails (PRIV-R4): how urgent, in neutral words, never what. The template is chosen by
    # the alert's priority when the e-mail is queued (ALERT_TEMPLATES).
    "alert_high": (
        "Urgent: please check the portal now",
        "Something in the portal needs your attention now. Please sign in and look at it as soon as you can, "
        "and acknowledge it there once you have acted.\n\n{link}",
    ),
    "alert_medium": (
        "Please check the portal today",
        "Something in the portal needs your attention today. Please sign in and look at it.\n\n{link}",
    ),
    "alert_low": (
        "Please check the portal when you can",
        "Something new is waiting in the portal. Please look at it when you next sign in.\n\n{link}",
    ),
    # Kept for e-mails queued before the templates above existed: they are still delivered after an upgrade.
    "alert": (
        "Something needs review in the portal",
        "An item needs review in the portal.\n\n{link}",
    ),
    "alert_escalation": (
        "Urgent: an item is still waiting in the portal",
        "An urgent item in the portal has not been acknowledged in the expected time. Please sign in and make "
        "sure someone looks at it now.\n\n{link}",
    ),
}


ALERT_TEMPLATES = {"high": "alert_high", "medium": "alert_medium", "low": "alert_low"}


def alert_template(severity: str) -> str:
    """The e-mail template for an alert of this priority."""
    return ALERT_TEMPLATES[severity]


def render(template: str, *, link: str) -> tuple[str, str]:
    """The subject and plain text of a message."""
    subject, text = TEMPLATES[template]
    return subject, text.format(link=link)
