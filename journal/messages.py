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


# --- Text messages -------------------------------------------------------------------------------------------
# One segment each (160 GSM-7 characters, tests/test_sms.py checks it with the longest sender name allowed and
# a long link), neutral like everything above (PRIV-R1), and led by the sender's name as carriers require.
# The sender is the name the texts go out under (JOURNAL_SMS_SENDER_NAME), never a clinic name that would say
# what it treats. The frequency below is what the reminder job can send: the daily reminder and its one
# follow-up (EMA-R2).

SMS_FREQUENCY = "Up to 2 msgs/day."

SMS_TEXTS: dict[str, str] = {
    "daily_reminder": "{sender}: You have a new check-in. {link} Reply STOP to opt out.",
    "sms_confirm": (
        "{sender}: You are signed up for check-in reminder texts. "
        + SMS_FREQUENCY
        + " Msg & data rates may apply. Reply HELP for help, STOP to cancel."
    ),
    "sms_stopped": "{sender}: You are unsubscribed and will get no more texts. Reply START to resume.",
    "sms_help": (
        "{sender}: check-in reminders. Help: {help}. "
        + SMS_FREQUENCY
        + " Msg & data rates may apply. Reply STOP to cancel."
    ),
}

# The texts that answer the patient (a keyword, the opt-in itself): sent whatever the consent says now, since
# carriers require them. Every other text needs a consent in force for its number when it goes.
SMS_REPLIES = frozenset({"sms_confirm", "sms_stopped", "sms_help"})

SMS_HELP_NO_PHONE = "use the app or ask your care team"


def render_sms(template: str, *, sender: str, link: str = "", help_phone: str = "") -> str:
    """The text of a text message. ``help_phone`` is the number HELP answers with (the clinic's)."""
    return SMS_TEXTS[template].format(
        sender=sender, link=link, help=f"call {help_phone}" if help_phone else SMS_HELP_NO_PHONE
    )


def sms_consent_words(sender: str, number: str) -> str:
    """The exact words a patient agrees to before the first text; stored with the consent."""
    return (
        f"I agree to receive check-in reminder texts from {sender} at {number}. {SMS_FREQUENCY} "
        "Msg & data rates may apply. Reply HELP for help, STOP to cancel at any time. "
        "Agreeing is not a condition of your care."
    )


# GSM 03.38: the basic character set (one septet each) and its extension table (two: escape + character). A text
# with any other character is sent as UCS-2, and then a segment holds only 70 characters.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")


def gsm7_length(text: str) -> int | None:
    """How many septets ``text`` takes in GSM-7, or None when it cannot be written in it."""
    length = 0
    for character in text:
        if character in GSM7_BASIC:
            length += 1
        elif character in GSM7_EXTENSION:
            length += 2
        else:
            return None
    return length


def fits_one_segment(text: str) -> bool:
    """Does ``text`` go as one SMS: at most 160 GSM-7 septets, or 70 characters in UCS-2?"""
    septets = gsm7_length(text)
    return septets <= 160 if septets is not None else len(text) <= 70
