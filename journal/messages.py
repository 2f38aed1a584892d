"""The texts of everything the journal sends outside the app.

PRIV-R1 / PRIV-R4: nothing here may carry health information: no condition, substance, drug, session,
appointment, score, mood word, questionnaire or clinic specialty. A message says that there is something to
see and links into the app, where the reader must sign in. tests/test_messages.py renders every template
and fails on any such word.
"""

from __future__ import annotations

from .wording import N_, catalogue

# The patient's messages are written in English and marked (N_) for the catalogue: ``render`` looks them up in the
# recipient's language (journal/translations/<lang>/LC_MESSAGES/messages.po). The clinicians' alert e-mails
# further down are not marked: staff read English.
TEMPLATES: dict[str, tuple[str, str]] = {
    "daily_reminder": (
        N_("You have a new check-in"),
        N_(
            "Hello,\n\nYou have a new check-in waiting.\n\n{link}\n\n"
            "You can change the time of these reminders, or pause them, in the app."
        ),
    ),
    "invitation": (
        N_("Your account is ready to set up"),
        N_(
            "Hello,\n\nAn account has been created for you. Choose your password here:\n\n{link}\n\n"
            "The link works once. If it has expired, ask for a new one. If you were not expecting this message, "
            "you can ignore it."
        ),
    ),
    # Sent to whoever typed the address on the reset page, so it must say nothing but what to do if it was them.
    "password_reset": (
        N_("Set a new password"),
        N_(
            "Hello,\n\nSomeone asked to set a new password for the account with this e-mail address. If it was "
            "you, choose a new password here:\n\n{link}\n\n"
            "The link works once and only for a short while. If it was not you, you can ignore this message: "
            "your password stays as it is."
        ),
    ),
    "assessment_due": (
        N_("You have something new to fill in"),
        N_(
            "Hello,\n\nThere is something new for you to fill in.\n\n{link}\n\n"
            "You can change the time of these reminders, or pause them, in the app."
        ),
    ),
    # SPEC 7.5: the evening before a planned visit. What to do before it is shown only inside the app.
    "session_prep": (
        N_("You have a new message"),
        N_(
            "Hello,\n\nYou have a new message in the app.\n\n{link}\n\n"
            "You can change the time of these reminders, or pause them, in the app."
        ),
    ),
    # KET-R3: the short check the morning after and three days after a visit.
    "side_effect_check": (
        N_("You have a short check-in"),
        N_(
            "Hello,\n\nThere is a short check-in waiting for you. It takes about a minute.\n\n{link}\n\n"
            "You can change the time of these reminders, or pause them, in the app."
        ),
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


# The templates written for patients, sent in their language; the others (the alerts) go to staff, in English.
PATIENT_TEMPLATES = frozenset(
    {"daily_reminder", "invitation", "password_reset", "assessment_due", "session_prep", "side_effect_check"}
)

# The title of a Web Push notification: the app's name, as the patient's home screen shows it.
PUSH_TITLE = N_("Journal")


def render(template: str, *, link: str, language: str = "en") -> tuple[str, str]:
    """The subject and plain text of a message; a patient's in ``language`` (their ``Patient.language``)."""
    subject, text = TEMPLATES[template]
    if template in PATIENT_TEMPLATES:
        gettext = catalogue(language).gettext
        subject, text = gettext(subject), gettext(text)
    return subject, text.format(link=link)


def push_title(language: str = "en") -> str:
    """The title a Web Push notification is shown with, in the patient's language."""
    return catalogue(language).gettext(PUSH_TITLE)


# --- Text messages -------------------------------------------------------------------------------------------
# One segment each (160 GSM-7 characters, tests/test_sms.py checks it with the longest sender name allowed and
# a long link), neutral like everything above (PRIV-R1), and led by the sender's name as carriers require.
# The sender is the name the texts go out under (JOURNAL_SMS_SENDER_NAME), never a clinic name that would say
# what it treats. The frequency below is what the reminder job can send: the daily reminder and its one
# follow-up (EMA-R2).

# In Spanish (journal/translations/es) the texts are written without the accented vowels á í ó ú (and ü), which
# GSM-7 lacks: one of them would turn the whole text into UCS-2, 70 characters a segment. Leaving them out is
# the common practice of Spanish text messages; é, ñ, ¿ and ¡ are in GSM-7 and may stay. The keywords stay
# STOP, START and HELP in every language: they are what carriers and Twilio act on.

SMS_FREQUENCY = N_("Up to 2 msgs/day.")

SMS_TEXTS: dict[str, str] = {
    "daily_reminder": N_("{sender}: You have a new check-in. {link} Reply STOP to opt out."),
    "sms_confirm": N_(
        "{sender}: You are signed up for check-in reminder texts. {frequency} Msg & data rates may apply. "
        "Reply HELP for help, STOP to cancel."
    ),
    "sms_stopped": N_("{sender}: You are unsubscribed and will get no more texts. Reply START to resume."),
    "sms_help": N_(
        "{sender}: check-in reminders. Help: {help}. {frequency} Msg & data rates may apply. Reply STOP to cancel."
    ),
}

# The texts that answer the patient (a keyword, the opt-in itself): sent whatever the consent says now, since
# carriers require them. Every other text needs a consent in force for its number when it goes.
SMS_REPLIES = frozenset({"sms_confirm", "sms_stopped", "sms_help"})

SMS_HELP_PHONE = N_("call {phone}")
SMS_HELP_NO_PHONE = N_("use the app or ask your care team")


def render_sms(template: str, *, sender: str, link: str = "", help_phone: str = "", language: str = "en") -> str:
    """The text of a text message in ``language`` (the patient's). ``help_phone`` is the number HELP answers with
    (the clinic's)."""
    gettext = catalogue(language).gettext
    help_text = gettext(SMS_HELP_PHONE).format(phone=help_phone) if help_phone else gettext(SMS_HELP_NO_PHONE)
    return gettext(SMS_TEXTS[template]).format(
        sender=sender, link=link, help=help_text, frequency=gettext(SMS_FREQUENCY)
    )


# Shown on a page, not texted: written with every accent. Its frequency is SMS_FREQUENCY's (tests/test_sms.py).
SMS_CONSENT_WORDS = N_(
    "I agree to receive check-in reminder texts from {sender} at {number}. Up to 2 msgs/day. "
    "Msg & data rates may apply. Reply HELP for help, STOP to cancel at any time. "
    "Agreeing is not a condition of your care."
)


def sms_consent_words(sender: str, number: str, language: str = "en") -> str:
    """The exact words a patient agrees to before the first text, in their language; stored with the consent."""
    return catalogue(language).gettext(SMS_CONSENT_WORDS).format(sender=sender, number=number)


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
