"""The web inbox's words in Italian and English, and which language a request gets.

Order of choice: the ``sportello_lang`` cookie (set by the language switch), then the
browser's ``Accept-Language``, then ``brand.default_language``.
"""

from __future__ import annotations

from fastapi import Request

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
        "nav.logout": "Sign out",
        "nav.help": "Keyboard shortcuts",
        "nav.language": "Language",
        "nav.live": "live",
        "nav.offline": "reconnecting…",
        "filter.label": "Filters",
        "filter.status": "Status",
        "filter.channel": "Channel",
        "filter.assignee": "Assignee",
        "filter.tag": "Tag",
        "filter.any": "Any",
        "filter.mine": "Assigned to me",
        "search.label": "Search messages and customers",
        "search.placeholder": "Name, handle, phone…",
        "search.none": "No customer found.",
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
        "conv.tags_hint": "comma separated; Enter saves",
        "conv.priority": "Priority",
        "conv.messages": "Messages",
        "msg.edited": "edited",
        "reply.label": "Reply",
        "reply.placeholder": "Write a reply… (Ctrl+Enter sends)",
        "reply.send": "Send",
        "reply.failed": "The reply could not be queued:",
        "reply.group": "This conversation is public: the reply will be visible to everyone.",
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
        "customer.identities": "Channels",
        "customer.history": "All conversations",
        "customer.current": "this one",
        "customer.language": "Language",
        "customer.phone": "Phone",
        "customer.email": "Email",
        "help.title": "Keyboard shortcuts",
        "help.next": "next conversation",
        "help.prev": "previous conversation",
        "help.reply": "write a reply",
        "help.resolve": "resolve the conversation",
        "help.search": "search customers",
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
        "nav.logout": "Esci",
        "nav.help": "Scorciatoie da tastiera",
        "nav.language": "Lingua",
        "nav.live": "in diretta",
        "nav.offline": "riconnessione…",
        "filter.label": "Filtri",
        "filter.status": "Stato",
        "filter.channel": "Canale",
        "filter.assignee": "Assegnatario",
        "filter.tag": "Etichetta",
        "filter.any": "Tutti",
        "filter.mine": "Assegnate a me",
        "search.label": "Cerca messaggi e clienti",
        "search.placeholder": "Nome, handle, telefono…",
        "search.none": "Nessun cliente trovato.",
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
        "conv.tags_hint": "separate da virgole; Invio salva",
        "conv.priority": "Priorità",
        "conv.messages": "Messaggi",
        "msg.edited": "modificato",
        "reply.label": "Risposta",
        "reply.placeholder": "Scrivi una risposta… (Ctrl+Invio invia)",
        "reply.send": "Invia",
        "reply.failed": "Non è stato possibile accodare la risposta:",
        "reply.group": "Questa conversazione è pubblica: la risposta sarà visibile a tutti.",
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
        "customer.identities": "Canali",
        "customer.history": "Tutte le conversazioni",
        "customer.current": "questa",
        "customer.language": "Lingua",
        "customer.phone": "Telefono",
        "customer.email": "Email",
        "help.title": "Scorciatoie da tastiera",
        "help.next": "conversazione successiva",
        "help.prev": "conversazione precedente",
        "help.reply": "scrivi una risposta",
        "help.resolve": "risolvi la conversazione",
        "help.search": "cerca clienti",
        "help.help": "questo aiuto",
        "help.escape": "esci dal campo di testo, chiudi l'aiuto",
        "help.send": "invia la risposta",
        "help.close": "Chiudi",
        "error.generic": "Qualcosa è andato storto:",
        "time.now": "ora",
    },
}


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


MESSAGES["en"].update(
    {
        "nav.pages": "Pages",
        "nav.inbox": "Inbox",
        "nav.reports": "Reports",
        "nav.listening": "Listening",
        "nav.settings": "Settings",
        "pages.admins_only": "Only administrators can open this page.",
        "reports.from": "From",
        "reports.to": "To",
        "reports.business_time": "Business time",
        "reports.show": "Show",
        "reports.heatmap": "Incoming messages by hour of the week",
        "reports.distribution": "Reply times",
        "reports.trend": "Sentiment and CSAT by day",
        "reports.weekdays": "Mon,Tue,Wed,Thu,Fri,Sat,Sun",
        "reports.median": "median",
        "reports.conversations": "Conversations",
        "reports.messages": "Messages",
        "reports.in_out": "in / out",
        "reports.backlog": "Backlog",
        "reports.first_response": "First response",
        "reports.reply_time": "Reply time",
        "reports.resolution_time": "Resolution time",
        "reports.resolution_rate": "Resolution rate",
        "reports.fcr": "First contact resolution",
        "reports.responses": "answers",
        "reports.sentiment": "Sentiment",
        "listening.trend": "Negative and positive mentions by day",
        "listening.alerts": "Alerts",
        "listening.mentions": "Mentions",
        "listening.when": "When",
        "listening.source": "Source",
        "listening.author": "Author",
        "listening.text": "Text",
        "listening.sentiment": "Sentiment",
        "settings.hint": (
            "Edit the JSON and save; the same shapes as the TOML file and the REST API."
            " A wrong value is refused with the key named."
        ),
        "settings.business-hours": "Business hours",
        "settings.away-messages": "Away messages",
        "settings.sla": "SLA targets",
        "settings.save": "Save",
        "settings.saved": "Saved.",
        "settings.not_json": "Not valid JSON",
        "settings.open_now": "Open now.",
        "settings.closed_now": "Closed now; we reopen",
    }
)
MESSAGES["it"].update(
    {
        "nav.pages": "Pagine",
        "nav.inbox": "Inbox",
        "nav.reports": "Report",
        "nav.listening": "Ascolto",
        "nav.settings": "Impostazioni",
        "pages.admins_only": "Solo gli amministratori possono aprire questa pagina.",
        "reports.from": "Dal",
        "reports.to": "Al",
        "reports.business_time": "Orario lavorativo",
        "reports.show": "Mostra",
        "reports.heatmap": "Messaggi in arrivo per ora della settimana",
        "reports.distribution": "Tempi di risposta",
        "reports.trend": "Sentiment e CSAT per giorno",
        "reports.weekdays": "Lun,Mar,Mer,Gio,Ven,Sab,Dom",
        "reports.median": "mediana",
        "reports.conversations": "Conversazioni",
        "reports.messages": "Messaggi",
        "reports.in_out": "ricevuti / inviati",
        "reports.backlog": "Arretrato",
        "reports.first_response": "Prima risposta",
        "reports.reply_time": "Tempo di risposta",
        "reports.resolution_time": "Tempo di risoluzione",
        "reports.resolution_rate": "Tasso di risoluzione",
        "reports.fcr": "Risolte al primo contatto",
        "reports.responses": "risposte",
        "reports.sentiment": "Sentiment",
        "listening.trend": "Menzioni negative e positive per giorno",
        "listening.alerts": "Allarmi",
        "listening.mentions": "Menzioni",
        "listening.when": "Quando",
        "listening.source": "Fonte",
        "listening.author": "Autore",
        "listening.text": "Testo",
        "listening.sentiment": "Sentiment",
        "settings.hint": (
            "Modifica il JSON e salva; la stessa forma del file TOML e dell'API REST."
            " Un valore sbagliato viene rifiutato indicando la chiave."
        ),
        "settings.business-hours": "Orari di apertura",
        "settings.away-messages": "Messaggi di assenza",
        "settings.sla": "Obiettivi SLA",
        "settings.save": "Salva",
        "settings.saved": "Salvato.",
        "settings.not_json": "JSON non valido",
        "settings.open_now": "Aperti ora.",
        "settings.closed_now": "Chiusi ora; riapriamo",
    }
)


MESSAGES["en"].update(
    {
        "notes.title": "Agent notes (never sent)",
        "notes.add": "Add note",
        "notes.placeholder": "A note for the team…",
        "reply.canned": "Canned reply",
        "customer.merge_with": "Merge with customer #",
        "customer.merge": "Merge",
        "customer.unmerge": "Split",
        "customer.unmerge_hint": "Make this identity a customer of its own again",
        "customer.suggestions": "Maybe the same person",
        "customer.confirm": "Link",
        "customer.dismiss": "Not the same",
    }
)
MESSAGES["it"].update(
    {
        "notes.title": "Note interne (mai inviate)",
        "notes.add": "Aggiungi nota",
        "notes.placeholder": "Una nota per il team…",
        "reply.canned": "Risposta pronta",
        "customer.merge_with": "Unisci con il cliente n.",
        "customer.merge": "Unisci",
        "customer.unmerge": "Separa",
        "customer.unmerge_hint": "Rendi questa identità di nuovo un cliente a sé",
        "customer.suggestions": "Forse la stessa persona",
        "customer.confirm": "Collega",
        "customer.dismiss": "Non è la stessa",
    }
)


def translator(language: str) -> dict[str, str]:
    return MESSAGES[language]
