"""The web inbox's words in Italian and English, and which language a request gets.

Order of choice: the ``sportello_lang`` cookie (set by the language switch), then the
browser's ``Accept-Language``, then ``brand.default_language``.
"""

from __future__ import annotations

from fastapi import Request

from sportello.api.i18n_desk import DESK_MESSAGES
from sportello.api.i18n_pages import PAGE_MESSAGES

LANGUAGES = ("it", "en")
LANG_COOKIE = "sportello_lang"

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "app.title": "sportello inbox",
        "login.title": "Sign in",
        "login.name": "User name",
        "login.password": "Password",
        "login.submit": "Sign in",
        "login.failed": "Wrong user name or password.",
        "login.expired": "The form expired; please try again.",
        "login.throttled": "Too many failed attempts: try again in a few minutes.",
        "nav.logout": "Sign out",
        "nav.help": "Keyboard shortcuts",
        "nav.available": "Taking conversations",
        "assign.new_for_you": "New for you",
        "nav.available_hint": "Automatic assignment gives new conversations only to agents "
        "taking them with the inbox open; signing out stops it.",
        "nav.language": "Language",
        "nav.live": "live",
        "nav.offline": "reconnecting…",
        "filter.label": "Filters",
        "filter.status": "Status",
        "filter.channel": "Channel",
        "filter.assignee": "Assignee",
        "filter.tag": "Tag",
        "filter.team": "Team",
        "filter.any": "Any",
        "filter.mine": "Assigned to me",
        "filter.nobody": "Unassigned",
        "list.title": "Conversations",
        "list.empty": "No conversations match.",
        "list.waiting": "waiting",
        "list.more": "Load more",
        "status.open": "Open",
        "status.pending": "Pending",
        "status.snoozed": "Snoozed",
        "status.resolved": "Resolved",
        "conv.none": "Select a conversation (j/k to move).",
        "conv.status": "Status",
        "conv.assignee": "Assignee",
        "conv.unassigned": "unassigned",
        "conv.assign_me": "Assign to me",
        "conv.unassign": "Unassign",
        "conv.resolve": "Resolve",
        "conv.reopen": "Reopen",
        "conv.tags": "Tags",
        "conv.priority": "Priority",
        "conv.messages": "Messages",
        "msg.edited": "edited",
        "reply.label": "Reply",
        "reply.placeholder": "Write a reply… (Ctrl+Enter sends)",
        "reply.send": "Send",
        "reply.failed": "The reply could not be queued:",
        "reply.group": "This conversation is public: the reply will be visible to everyone.",
        "reply.parts_posts": (
            "This reply will go out as {n} numbered posts (X counts a link as 23, an emoji as 2)."
        ),
        "reply.parts_messages": "This reply is longer than one message: it will go out as {n}.",
        "reply.attach": "Attach a file",
        "reply.attach_remove": "Remove the file",
        "reply.attach_window": "WhatsApp sends files only within 24 hours of the customer's "
        "last message",
        "author.customer": "customer",
        "author.agent": "agent",
        "author.bot": "automatic",
        "delivery.queued": "queued",
        "delivery.sent": "sent",
        "delivery.delivered": "delivered",
        "delivery.read": "read",
        "delivery.failed": "not delivered",
        "sentiment.positive": "positive",
        "sentiment.neutral": "neutral",
        "sentiment.negative": "negative",
        "customer.title": "Customer",
        "customer.close": "Close the customer's card",
        "conv.back": "Conversations",
        "conv.actions": "Actions",
        "customer.identities": "Channels",
        "customer.history": "All conversations",
        "customer.current": "this one",
        "customer.language": "Language",
        "customer.phone": "Phone",
        "customer.email": "Email",
        "help.title": "Keyboard shortcuts",
        "help.next": "next conversation",
        "help.prev": "previous conversation",
        "help.resolve": "resolve the conversation",
        "help.pick": "pick the conversation for a bulk action",
        "help.assign": "assign the conversation to me, or let it go",
        "help.hand": "hand the conversation over to a colleague",
        "help.macro": "pick a macro for the conversation",
        "bulk.label": "Bulk actions",
        "bulk.pick": "Pick",
        "bulk.selected": "picked",
        "bulk.clear": "Clear",
        "bulk.refused": "{count} left as they were, still picked:",
        "help.help": "this help",
        "help.escape": "leave the text box, close this help",
        "help.send": "send the reply",
        "help.close": "Close",
        "error.generic": "Something went wrong:",
        "time.now": "now",
    },
    "it": {
        "app.title": "sportello posta in arrivo",
        "login.title": "Accedi",
        "login.name": "Nome utente",
        "login.password": "Password",
        "login.submit": "Accedi",
        "login.failed": "Nome utente o password errati.",
        "login.expired": "Il modulo è scaduto; riprova.",
        "login.throttled": "Troppi tentativi falliti: riprova fra qualche minuto.",
        "nav.logout": "Esci",
        "nav.help": "Scorciatoie da tastiera",
        "nav.available": "Prendo conversazioni",
        "assign.new_for_you": "Nuove per te",
        "nav.available_hint": "L'assegnazione automatica dà le nuove conversazioni solo a chi "
        "le prende con la inbox aperta; uscire la interrompe.",
        "nav.language": "Lingua",
        "nav.live": "in diretta",
        "nav.offline": "riconnessione…",
        "filter.label": "Filtri",
        "filter.status": "Stato",
        "filter.channel": "Canale",
        "filter.assignee": "Assegnatario",
        "filter.tag": "Etichetta",
        "filter.team": "Team",
        "filter.any": "Tutti",
        "filter.mine": "Assegnate a me",
        "filter.nobody": "Non assegnate",
        "list.title": "Conversazioni",
        "list.empty": "Nessuna conversazione corrisponde.",
        "list.waiting": "in attesa",
        "list.more": "Carica altre",
        "status.open": "Aperta",
        "status.pending": "In sospeso",
        "status.snoozed": "Posticipata",
        "status.resolved": "Risolta",
        "conv.none": "Scegli una conversazione (j/k per spostarti).",
        "conv.status": "Stato",
        "conv.assignee": "Assegnatario",
        "conv.unassigned": "non assegnata",
        "conv.assign_me": "Assegna a me",
        "conv.unassign": "Togli assegnazione",
        "conv.resolve": "Risolvi",
        "conv.reopen": "Riapri",
        "conv.tags": "Etichette",
        "conv.priority": "Priorità",
        "conv.messages": "Messaggi",
        "msg.edited": "modificato",
        "reply.label": "Risposta",
        "reply.placeholder": "Scrivi una risposta… (Ctrl+Invio invia)",
        "reply.send": "Invia",
        "reply.failed": "Non è stato possibile accodare la risposta:",
        "reply.group": "Questa conversazione è pubblica: la risposta sarà visibile a tutti.",
        "reply.parts_posts": (
            "Questa risposta uscirà in {n} post numerati (X conta un link 23, un'emoji 2)."
        ),
        "reply.parts_messages": "Questa risposta supera un messaggio: uscirà in {n} messaggi.",
        "reply.attach": "Allega un file",
        "reply.attach_remove": "Togli il file",
        "reply.attach_window": "WhatsApp invia file solo entro 24 ore dall'ultimo messaggio "
        "del cliente",
        "author.customer": "cliente",
        "author.agent": "operatore",
        "author.bot": "automatico",
        "delivery.queued": "in coda",
        "delivery.sent": "inviato",
        "delivery.delivered": "consegnato",
        "delivery.read": "letto",
        "delivery.failed": "non consegnato",
        "sentiment.positive": "positivo",
        "sentiment.neutral": "neutro",
        "sentiment.negative": "negativo",
        "customer.title": "Cliente",
        "customer.close": "Chiudi la scheda del cliente",
        "conv.back": "Conversazioni",
        "conv.actions": "Azioni",
        "customer.identities": "Canali",
        "customer.history": "Tutte le conversazioni",
        "customer.current": "questa",
        "customer.language": "Lingua",
        "customer.phone": "Telefono",
        "customer.email": "Email",
        "help.title": "Scorciatoie da tastiera",
        "help.next": "conversazione successiva",
        "help.prev": "conversazione precedente",
        "help.resolve": "risolvi la conversazione",
        "help.pick": "scegli la conversazione per un'azione su più conversazioni",
        "help.assign": "prendi la conversazione, o lasciala",
        "help.hand": "passa la conversazione a un collega",
        "help.macro": "scegli una macro per la conversazione",
        "bulk.label": "Azioni su più conversazioni",
        "bulk.pick": "Scegli",
        "bulk.selected": "scelte",
        "bulk.clear": "Annulla",
        "bulk.refused": "{count} lasciate com'erano, ancora scelte:",
        "help.help": "questo aiuto",
        "help.escape": "esci dal campo di testo, chiudi l'aiuto",
        "help.send": "invia la risposta",
        "help.close": "Chiudi",
        "error.generic": "Qualcosa è andato storto:",
        "time.now": "ora",
    },
}

for _language, _words in DESK_MESSAGES.items():
    MESSAGES[_language].update(_words)


def choose_language(request: Request, default: str = "it") -> str:
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    for code in _accepted(request.headers.get("accept-language", "")):
        if code in LANGUAGES:
            return code
    return default if default in LANGUAGES else LANGUAGES[0]


def _accepted(header: str) -> list[str]:
    """Primary language codes of an Accept-Language header, most wanted first."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, position, tag.split("-")[0].lower()))
    return [code for _, _, code in sorted(ranked)]


def translator(language: str) -> dict[str, str]:
    return MESSAGES[language]


for _language, _words in PAGE_MESSAGES.items():
    MESSAGES[_language].update(_words)
