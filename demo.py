"""``sportello demo``: the daemon on SQLite, fed by local emulators of every platform."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path

import httpx

from sportello.cli import serve
from sportello.config.settings import load_settings
from sportello.connectors.emulators.demo_listening import ListeningDemo
from sportello.connectors.emulators.demo_platforms import DemoCustomer, DemoPlatform, demo_platforms
from sportello.inbox import accounts
from sportello.inbox.clock import Clock
from sportello.inbox.db import make_engine, migrate, session_scope

log = logging.getLogger(__name__)

DEMO_TOKEN = "demo"
DEMO_USER = ("demo", "demo")  # an admin of the web inbox: name, password
# Colleagues (agents, password = name): the team to hand conversations to and to @name;
# Marta also works during the demo, through her own API token.
COLLEAGUES = ("marta", "paolo")
SCRIPT_TOKEN = "demo script"  # the label of Marta's token, made anew at each start

CUSTOMERS = {
    "giulia": DemoCustomer(
        "Giulia",
        "Rossi",
        "it",
        {"telegram": "5551001", "whatsapp": "393331234567"},  # +39 333 1234567
        handle="giuliar",
    ),
    "marco": DemoCustomer(
        "Marco", "Bianchi", "it", {"telegram": "5551002", "messenger": "6024301887612345"}
    ),
    "emma": DemoCustomer(
        "Emma",
        "Clarke",
        "en",
        {
            "telegram": "5551003",
            "messenger": "7135412998723456",
            "whatsapp": "447700900123",
            "x": "2400000001",
        },
        handle="emmac",
    ),
    "luca": DemoCustomer("Luca", "Verdi", "it", {"x": "2400000002"}, handle="lucaverdi"),
}

LISTENING_BURST_AT_S = 20  # a burst of negative press: the alert rules fire

# In the script, this text on Telegram means: the customer shares their own contact card.
# Giulia does, and her phone number proves she is the WhatsApp customer +39 333 1234567:
# the two become one customer with one history.
SHARE_CONTACT = "<shares her phone number>"
# A text starting with this on WhatsApp: the customer sends a photo, the rest is its caption.
PHOTO = "<photo> "

# Once the customers have written, Marta leaves this on Giulia's Telegram conversation,
# answers Marco's thanks on Telegram (hers now), and hands Luca's X question to Paolo.
COLLEAGUE_NOTE = (
    f"@{DEMO_USER[0]} Giulia ha scritto anche su WhatsApp per l'ordine 4411: la segui tu?"
)
MARTAS_REPLY = "Grazie a te Marco, a presto!"

# (seconds after start, customer, channel, text)
SCRIPT: list[tuple[float, str, str, str]] = [
    # On X, a text starting with "@" is a public tweet at the brand, any other a DM.
    (1, "giulia", "telegram", "Ciao! Il mio ordine 4411 non è ancora arrivato, potete aiutarmi?"),
    (3, "emma", "telegram", "Hi, I was charged twice for my subscription. Please fix this asap."),
    (4, "emma", "x", "@ your app logs me out every time I open it. Annoying!"),
    (5, "marco", "telegram", "Servizio fantastico, grazie mille per la velocità!"),
    (7, "luca", "x", "@ consegna puntualissima, bravi!"),
    (8, "giulia", "telegram", "Sono passati 10 giorni, è una vergogna. Voglio un rimborso."),
    (10, "luca", "x", "Ciao, posso cambiare l'indirizzo di consegna dell'ordine 5120?"),
    (12, "emma", "telegram", "Any news? Still waiting for the refund."),
    (14, "emma", "x", "@ still broken after the update, any fix?"),
    (14, "giulia", "whatsapp", "Vi scrivo anche qui: ordine 4411, mi mandate il tracking?"),
    (15, "giulia", "whatsapp", PHOTO + "Intanto ecco la scatola dell'ultimo ordine, tutta rotta"),
    (16, "marco", "messenger", "Buongiorno, avete la taglia M della giacca blu in negozio?"),
    (18, "emma", "whatsapp", "Hello, can I change the delivery address for order 5120?"),
    (21, "emma", "messenger", "Love the new collection, great job!"),
    (24, "giulia", "whatsapp", "Grazie, ho ricevuto il tracking. Gentilissimi!"),
    (26, "giulia", "telegram", SHARE_CONTACT),
]

# An Italian office: Monday to Friday, Italian public holidays closed.
BUSINESS_HOURS = {
    "timezone": "Europe/Rome",
    "holidays": "IT",
    **{day: ["09:00-13:00", "14:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
}
# The first rule answers on every channel whenever the office is closed (nights, weekends,
# holidays: a Sunday message gets "we answer from Monday at 09:00"). The demo runs on the real
# clock, so, to show an automatic answer at any hour, the second rule also acknowledges
# Telegram messages during office hours. Each customer gets at most one per 12 hours.
AWAY_MESSAGES = [
    {
        "when": "closed",
        "cooldown": "12h",
        "text": {
            "it": "Ciao {name}, ora siamo chiusi: ti rispondiamo da {next_open}.",
            "en": "Hi {name}, we are closed now: we will answer from {next_open}.",
        },
    },
    {
        "channels": ["telegram"],
        "when": "always",
        "cooldown": "12h",
        "text": {
            "it": "Ciao {name}, abbiamo ricevuto il tuo messaggio: un operatore ti risponde qui.",
            "en": "Hi {name}, we got your message: an agent will answer you here.",
        },
    },
]
SLA = [{"name": "standard", "first_response": "1h", "resolution": "1d", "warn_before": "15m"}]
# Tick "Taking conversations" in the inbox and the open conversations come to you.
ASSIGNMENT = {"mode": "balanced", "max_open_per_agent": 10}
# Two pick-and-done steps for the inbox's Macro… list (the settings page edits them).
MACROS = [
    {
        "name": "Grazie, risolta",
        "reply": "Grazie a te {name}, buona giornata!",
        "take": True,
        "status": "resolved",
    },
    {
        "name": "Al magazzino",
        "note": "Da verificare con il magazzino: ordine, foto del pacco.",
        "add_tags": ["magazzino"],
        "status": "pending",
    },
]
# Teams of the demo's colleagues: the inbox's Team picker and filter.
TEAMS = {"resi": ["paolo"], "assistenza": ["marta", "paolo"]}
# Giulia's and Emma's refund requests come in tagged, raised and given to the returns team
# (the settings page edits the rule; the reports page splits the figures by team).
TRIAGE_RULES = [
    {
        "name": "refunds",
        "keywords": ["rimbors*", "refund*"],
        "add_tags": ["refund"],
        "priority": 2,
        "team": "resi",
    },
    {  # answers for the team, once per conversation, in the customer's language
        "name": "delivery-address",
        "keywords": ["indirizzo di consegna", "delivery address"],
        "answer": {
            "it": "Ciao {name}, l'indirizzo si cambia dalla pagina dell'ordine finché non è "
            "spedito. Se è già partito, un operatore ti risponde qui.",
            "en": "Hi {name}, you can change the address on the order's page until it ships. "
            "If it has shipped already, an agent will answer you here.",
        },
    },
]


def run_demo(*, port: int, data_dir: Path, fresh: bool, speed: float = 1.0) -> None:
    """Run the demo until interrupted; ``speed`` plays the scripted traffic (the customers'
    messages, the burst of press) that many times faster."""
    data_dir.mkdir(parents=True, exist_ok=True)
    database = data_dir / "demo.db"
    if fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
    daemon_url = f"http://127.0.0.1:{port}"
    platforms = demo_platforms()
    channels = {p.channel: p.start(daemon_url) for p in platforms}
    listening = ListeningDemo()
    listening.start()
    settings = load_settings(
        None,
        database={"url": f"sqlite:///{database}"},
        api={"tokens": [DEMO_TOKEN]},
        channels=channels,
        business_hours=BUSINESS_HOURS,
        away_messages=AWAY_MESSAGES,
        sla=SLA,
        assignment=ASSIGNMENT,
        triage_rules=TRIAGE_RULES,
        **listening.settings(telegram_enabled="telegram" in channels),
    )
    martas_token = _add_demo_team(settings.database.url)
    player = threading.Thread(
        target=_play, args=(daemon_url, platforms, speed, martas_token), daemon=True
    )
    player.start()
    burst = threading.Timer(LISTENING_BURST_AT_S / speed, listening.burst)
    burst.daemon = True
    burst.start()
    print(
        f"\n  sportello demo on {daemon_url}\n"
        f"  web inbox: {daemon_url}/   login: {DEMO_USER[0]} / password: {DEMO_USER[1]}\n"
        f"  API docs: {daemon_url}/docs   API token: {DEMO_TOKEN}\n"
        f"  try: curl -H 'Authorization: Bearer {DEMO_TOKEN}' {daemon_url}/api/v1/conversations\n",
        flush=True,
    )
    try:
        serve(settings, "127.0.0.1", port)
    finally:
        for platform in platforms:
            platform.stop()
        listening.stop()


def _add_demo_team(database_url: str) -> str:
    """The demo admin and the colleagues; returns a new personal API token of Marta's."""
    engine = make_engine(database_url)
    now = Clock().now()
    try:
        migrate(engine)
        with session_scope(engine) as session:
            accounts.ensure_user(session, *DEMO_USER, role="admin", now=now)
            for name in COLLEAGUES:
                accounts.ensure_user(session, name, name, role="agent", now=now)
            marta = accounts.find_user(session, COLLEAGUES[0])
            assert marta is not None
            for old in accounts.api_tokens_of(session, marta):  # the last start's
                if old.label == SCRIPT_TOKEN and old.id is not None:
                    accounts.revoke_api_token(session, marta, old.id)
            secret, _ = accounts.create_api_token(session, marta, SCRIPT_TOKEN, now)
            return secret
    finally:
        engine.dispose()


def _play(daemon_url: str, platforms: list[DemoPlatform], speed: float, martas_token: str) -> None:
    if not _wait_ready(daemon_url):
        log.error("demo daemon never became ready; no traffic played")
        return
    by_channel = {p.channel: p for p in platforms}
    try:
        _write_desk_tools(daemon_url)
    except httpx.HTTPError as exc:
        log.warning("demo: the macros and teams could not be written: %s", exc)
    asyncio.run(_play_script(by_channel, speed))
    try:
        _marta_at_work(daemon_url, martas_token)
    except httpx.HTTPError as exc:  # the demo goes on without her
        log.warning("demo: Marta's work failed: %s", exc)


def _write_desk_tools(daemon_url: str) -> None:
    """The demo's macros and teams, through the API as its admin (a macro's name taken: kept
    from the last run)."""
    headers = {"Authorization": f"Bearer {DEMO_TOKEN}"}
    with httpx.Client(base_url=daemon_url, headers=headers) as api:
        for macro in MACROS:
            answer = api.post("/api/v1/macros", json=macro)
            if answer.status_code not in (201, 409):
                answer.raise_for_status()
        for name, members in TEAMS.items():
            api.put(f"/api/v1/teams/{name}", json={"members": members}).raise_for_status()


def _marta_at_work(daemon_url: str, token: str) -> None:
    """Marta asks the demo user about Giulia in an internal note (the inbox shows
    "Mentioned: 1"), answers Marco's thanks on Telegram, and hands Luca's X question to
    Paolo: the reports by agent have something to show."""
    api = httpx.Client(base_url=daemon_url, headers={"Authorization": f"Bearer {token}"})
    with api:

        def conversation_of(words: str, channel: str) -> int | None:
            found = api.get("/api/v1/search", params={"q": words}).json()["messages"]["items"]
            ids = [m["conversation_id"] for m in found if m["channel"] == channel]
            if not ids:
                log.warning("demo: no %s conversation with %r", channel, words)
            return ids[0] if ids else None

        if (giulias := conversation_of("4411", "telegram")) is not None:
            note = {"text": COLLEAGUE_NOTE}
            api.post(f"/api/v1/conversations/{giulias}/notes", json=note).raise_for_status()
        if (marcos := conversation_of("fantastico", "telegram")) is not None:
            path = f"/api/v1/conversations/{marcos}"
            api.patch(path, json={"assignee": COLLEAGUES[0]}).raise_for_status()
            api.post(f"{path}/messages", json={"text": MARTAS_REPLY}).raise_for_status()
        if (lucas := conversation_of("5120", "x")) is not None:
            path = f"/api/v1/conversations/{lucas}"
            api.patch(path, json={"assignee": COLLEAGUES[1]}).raise_for_status()


async def _play_script(by_channel: dict[str, DemoPlatform], speed: float) -> None:
    start = time.monotonic()
    for at, customer, channel, text in SCRIPT:
        platform = by_channel.get(channel)
        if platform is None:
            continue
        await asyncio.sleep(max(0.0, at / speed - (time.monotonic() - start)))
        try:
            if text == SHARE_CONTACT:
                person = CUSTOMERS[customer]
                await platform.share_contact(person, person.ids["whatsapp"])  # type: ignore[attr-defined]
            elif text.startswith(PHOTO):
                caption = text.removeprefix(PHOTO)
                await platform.send_photo(CUSTOMERS[customer], caption)  # type: ignore[attr-defined]
            else:
                await platform.say(CUSTOMERS[customer], text)
        except Exception as exc:  # the demo goes on if one delivery fails
            log.warning("demo delivery on %s failed: %s", channel, exc)


def _wait_ready(url: str, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False
