"""`omnidesk demo`: a lived-in demo workspace (docs/demo.md).

Three teams, eight agents and an administrator, one inbox per channel, 200 contacts from five locales and
500 conversations in English, Simplified and Traditional Chinese, Italian and Polish over the last 30 days.

How the data is made, and why:
- Conversations in which the customer changes channel are received message by message through
  `conversations.actions.receive_message`, the spine a connector uses, so identity resolution,
  continuity and the channel-switch events are the real thing. The others are plain history and are
  inserted in bulk (the spine would add nothing the demo shows, and costs seconds on a busy SQLite).
- Agent replies, notes and timeline events are inserted directly as history: replies are stored as
  already `sent` (meta `{"demo": true}`) and no delivery task is queued, so nothing is ever sent to a
  provider. The inbound-processing tasks `receive_message` queued for the seeded messages are removed
  too: routing and auto-acknowledgements must not rewrite the history (or reply to fictitious people).
- Timestamps are moved into the past with `update()`/`bulk_update()` once each conversation is built.
- Contacts are made first with verified identities (e-mail at example.com/.net/.org, phone, chat ids), as
  if imported from a shop, so each channel's message finds its customer.
- Everything happens in one transaction with realtime publishing muted: all or nothing, and open
  workspaces are not flooded with 3,000 events of history.
"""

# Fullwidth punctuation is correct in Chinese text, and customer messages are prose, not code:
# ruff: noqa: RUF001, E501

from __future__ import annotations

import datetime as dt
import random
import secrets
import sys
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import IO, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tasks_db.models import DBTaskResult

from omnidesk.accounts.constants import Role
from omnidesk.accounts.models import AgentProfile, AgentSkill, Skill, Team
from omnidesk.contacts.actions import normalize_claims
from omnidesk.contacts.models import Contact, ContactIdentity
from omnidesk.conversations.actions import receive_message
from omnidesk.conversations.constants import EventType
from omnidesk.conversations.models import Conversation, Message, Tag
from omnidesk.inboxes.contract import IdentityClaim, InboundEvent
from omnidesk.inboxes.models import Inbox
from omnidesk.realtime.publish import muted

DEMO_PASSWORD = "omnidesk-demo"  # noqa: S105  (a published demo credential, printed on purpose)
ADMIN_USERNAME = "admin"
CONTACTS = 200
CONVERSATIONS = 500
DAYS = 30
LANGUAGES = ("en", "zh-Hans", "zh-Hant", "it", "pl")

# --- people ------------------------------------------------------------------------------------

# (given name, family name, e-mail local part); Chinese names carry their romanisation for the address.
_EN_FIRST = [
    "Olivia",
    "James",
    "Emma",
    "Liam",
    "Sophie",
    "Noah",
    "Grace",
    "Oliver",
    "Chloe",
    "Jack",
    "Emily",
    "Harry",
    "Mia",
    "Thomas",
    "Ava",
    "Daniel",
    "Hannah",
    "Samuel",
    "Lucy",
    "Ethan",
    "Priya",
    "Aisha",
]
_EN_LAST = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Taylor",
    "Wilson",
    "Davies",
    "Evans",
    "Roberts",
    "Walker",
    "Wright",
    "Robinson",
    "Thompson",
    "Hughes",
    "Clarke",
    "Patel",
    "Murphy",
    "O'Connor",
    "Khan",
    "Green",
]
_ZH_HANS_LAST = [
    ("王", "wang"),
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("赵", "zhao"),
    ("黄", "huang"),
    ("周", "zhou"),
    ("吴", "wu"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("马", "ma"),
    ("朱", "zhu"),
    ("胡", "hu"),
    ("郭", "guo"),
]
_ZH_HANS_FIRST = [
    ("伟", "wei"),
    ("芳", "fang"),
    ("娜", "na"),
    ("秀英", "xiuying"),
    ("敏", "min"),
    ("静", "jing"),
    ("丽", "li"),
    ("强", "qiang"),
    ("磊", "lei"),
    ("洋", "yang"),
    ("勇", "yong"),
    ("杰", "jie"),
    ("娟", "juan"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("建华", "jianhua"),
    ("晓燕", "xiaoyan"),
    ("子涵", "zihan"),
    ("浩然", "haoran"),
    ("欣怡", "xinyi"),
    ("宇轩", "yuxuan"),
]
_ZH_HANT_LAST = [
    ("陳", "chen"),
    ("林", "lin"),
    ("黃", "huang"),
    ("張", "chang"),
    ("李", "lee"),
    ("王", "wang"),
    ("吳", "wu"),
    ("劉", "liu"),
    ("蔡", "tsai"),
    ("楊", "yang"),
    ("許", "hsu"),
    ("鄭", "cheng"),
    ("謝", "hsieh"),
    ("郭", "kuo"),
    ("洪", "hung"),
    ("曾", "tseng"),
]
_ZH_HANT_FIRST = [
    ("淑芬", "shufen"),
    ("志明", "chihming"),
    ("美玲", "meiling"),
    ("家豪", "chiahao"),
    ("怡君", "yichun"),
    ("俊傑", "chunchieh"),
    ("雅婷", "yating"),
    ("宗翰", "tsunghan"),
    ("佳穎", "chiaying"),
    ("冠宇", "kuanyu"),
    ("詩涵", "shihhan"),
    ("承恩", "chengen"),
    ("欣妤", "hsinyu"),
    ("柏翰", "pohan"),
    ("婉婷", "wanting"),
    ("建宏", "chienhung"),
    ("麗華", "lihua"),
    ("嘉欣", "kayan"),
    ("偉倫", "wailun"),
    ("文傑", "wenchieh"),
]
_IT_FIRST = [
    "Giulia",
    "Marco",
    "Francesca",
    "Alessandro",
    "Chiara",
    "Luca",
    "Sara",
    "Matteo",
    "Martina",
    "Lorenzo",
    "Elena",
    "Andrea",
    "Valentina",
    "Davide",
    "Federica",
    "Simone",
    "Alessia",
    "Riccardo",
    "Giorgia",
    "Stefano",
]
_IT_LAST = [
    "Rossi",
    "Russo",
    "Ferrari",
    "Esposito",
    "Bianchi",
    "Romano",
    "Colombo",
    "Ricci",
    "Marino",
    "Greco",
    "Bruno",
    "Gallo",
    "Conti",
    "De Luca",
    "Mancini",
    "Costa",
    "Giordano",
    "Rizzo",
    "Lombardi",
    "Moretti",
]
_PL_FEMALE = [
    "Anna",
    "Katarzyna",
    "Magdalena",
    "Agnieszka",
    "Joanna",
    "Aleksandra",
    "Monika",
    "Ewa",
    "Zofia",
    "Natalia",
    "Małgorzata",
    "Karolina",
]
_PL_MALE = [
    "Piotr",
    "Krzysztof",
    "Tomasz",
    "Paweł",
    "Michał",
    "Marcin",
    "Jakub",
    "Adam",
    "Łukasz",
    "Kamil",
    "Grzegorz",
    "Mateusz",
]
# (masculine, feminine)
_PL_LAST = [
    ("Nowak", "Nowak"),
    ("Kowalski", "Kowalska"),
    ("Wiśniewski", "Wiśniewska"),
    ("Wójcik", "Wójcik"),
    ("Kowalczyk", "Kowalczyk"),
    ("Kamiński", "Kamińska"),
    ("Lewandowski", "Lewandowska"),
    ("Zieliński", "Zielińska"),
    ("Szymański", "Szymańska"),
    ("Woźniak", "Woźniak"),
    ("Dąbrowski", "Dąbrowska"),
    ("Kozłowski", "Kozłowska"),
    ("Mazur", "Mazur"),
    ("Krawczyk", "Krawczyk"),
]

_ASCII = str.maketrans("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ' ", "acelnoszzACELNOSZZ__")

_LOCALE = {
    # time zones, phone formats (country code, national number prefix choices, digits after the prefix),
    # currency format, preferred first channels (weights)
    "en": {
        "tz": ["Europe/London", "America/New_York", "America/Chicago", "Europe/Dublin"],
        "phone": [("+44", ["7700900"], 3), ("+1", ["20255501"], 2)],
        "money": lambda a: f"£{a:.2f}",
        "channels": {
            "email": 30,
            "webchat": 25,
            "whatsapp": 15,
            "sms": 10,
            "telegram": 6,
            "api": 8,
            "messenger": 6,
        },
    },
    "zh-Hans": {
        "tz": ["Asia/Shanghai"],
        "phone": [("+86", ["138", "139", "186", "158"], 8)],
        "money": lambda a: f"¥{a * 7:.2f}",
        "channels": {"webchat": 40, "email": 25, "sms": 15, "api": 15, "telegram": 5},
    },
    "zh-Hant": {
        "tz": ["Asia/Taipei", "Asia/Hong_Kong"],
        "phone": [("+886", ["912", "933", "958"], 6)],
        "money": lambda a: f"NT${a * 32:,.0f}",
        "channels": {"webchat": 25, "email": 20, "whatsapp": 20, "telegram": 15, "messenger": 10, "sms": 10},
    },
    "it": {
        "tz": ["Europe/Rome"],
        "phone": [("+39", ["347", "333", "320", "349"], 7)],
        "money": lambda a: f"{a:.2f} €".replace(".", ","),
        "channels": {"whatsapp": 35, "email": 30, "webchat": 20, "sms": 5, "messenger": 5, "api": 5},
    },
    "pl": {
        "tz": ["Europe/Warsaw"],
        "phone": [("+48", ["501", "602", "698", "724", "881"], 6)],
        "money": lambda a: f"{a * 4.3:.2f} zł".replace(".", ","),
        "channels": {"email": 35, "webchat": 20, "messenger": 15, "sms": 10, "whatsapp": 10, "api": 10},
    },
}

_COMPANIES = [
    "Northwind Traders",
    "Contoso Ltd",
    "Fabrikam",
    "Adatum",
    "Tailspin Toys",
    "Wide World Importers",
    "Litware",
    "Proseware",
    "Lucerne Publishing",
    "Coho Winery",
]

# --- what customers write, and what agents answer -------------------------------------------------
# Per scenario and language: subject, two openings, the agent's reply, the customer's follow-up and the
# agent's closing answer. Placeholders: {order}, {amount}, {name} (the customer's given name; only in
# languages where greeting by given name is natural).


@dataclass(frozen=True)
class Scenario:
    key: str
    team: str  # key of TEAMS
    tags: tuple[str, ...]
    priority: tuple[int, int, int, int]  # weights of low, normal, high, urgent
    texts: dict[str, dict[str, Any]]


def _s(subject: str, opens: list[str], reply: str, follow: str, close: str) -> dict[str, Any]:
    return {"subject": subject, "open": opens, "reply": reply, "follow": follow, "close": close}


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "double_charge",
        "billing",
        ("billing", "double-charge"),
        (0, 4, 5, 2),
        {
            "en": _s(
                "Charged twice for order {order}",
                [
                    "Hi, I just checked my bank statement and I've been charged twice for order {order} ({amount} each time). Can you please refund the duplicate payment?",
                    "Hello, my card was debited two times for the same order {order}. I only placed one order. Please sort this out.",
                ],
                "Hi {name}, I'm sorry about that. I can see two payment attempts for order {order}; the second one is a duplicate authorisation. I've asked our payments team to release it, and it should disappear from your statement within 3–5 business days.",
                "Thanks. Will I get an email confirmation once the refund is processed?",
                "Yes, you'll receive a confirmation email as soon as it's released. Is there anything else I can help with?",
            ),
            "it": _s(
                "Addebito doppio per l'ordine {order}",
                [
                    "Buongiorno, controllando l'estratto conto ho visto che l'ordine {order} mi è stato addebitato due volte ({amount} ciascuno). Potete rimborsarmi il pagamento doppio?",
                    "Salve, la mia carta è stata addebitata due volte per lo stesso ordine {order}. Ho fatto un solo ordine, potete verificare?",
                ],
                "Gentile {name}, mi scuso per l'inconveniente. Vedo due tentativi di pagamento per l'ordine {order}: il secondo è una preautorizzazione duplicata. Ho chiesto al reparto pagamenti di annullarla; sparirà dall'estratto conto entro 3-5 giorni lavorativi.",
                "Grazie. Riceverò un'e-mail di conferma quando il rimborso sarà elaborato?",
                "Sì, riceverà un'e-mail di conferma non appena l'importo sarà sbloccato. Posso aiutarla in altro?",
            ),
            "pl": _s(
                "Podwójne obciążenie za zamówienie {order}",
                [
                    "Dzień dobry, na wyciągu z konta widzę, że za zamówienie {order} pobrano dwa razy po {amount}. Proszę o zwrot podwójnej płatności.",
                    "Witam, moja karta została obciążona dwukrotnie za to samo zamówienie {order}. Zamówienie było tylko jedno, proszę to sprawdzić.",
                ],
                "Dzień dobry, przepraszamy za kłopot. Widzę dwie próby płatności za zamówienie {order}; druga to zduplikowana autoryzacja. Zgłosiliśmy jej anulowanie do działu płatności — zniknie z wyciągu w ciągu 3–5 dni roboczych.",
                "Dziękuję. Czy dostanę e-mail z potwierdzeniem, gdy zwrot zostanie zaksięgowany?",
                "Tak, potwierdzenie przyjdzie e-mailem, gdy tylko środki zostaną odblokowane. Czy możemy jeszcze w czymś pomóc?",
            ),
            "zh-Hans": _s(
                "订单 {order} 被重复扣款",
                [
                    "你好，我刚查了银行账单，订单 {order} 被扣了两次款，每次 {amount}。请帮我退回重复的那笔。",
                    "您好，同一个订单 {order} 我的银行卡被扣了两次，我只下了一单，麻烦核实一下。",
                ],
                "您好，非常抱歉给您带来不便。我看到订单 {order} 有两笔支付记录，第二笔是重复的预授权。我已经联系支付部门撤销，3-5 个工作日内会从您的账单上消失。",
                "谢谢。退款处理好以后我会收到邮件通知吗？",
                "会的，款项释放后系统会给您发送确认邮件。请问还有其他可以帮您的吗？",
            ),
            "zh-Hant": _s(
                "訂單 {order} 被重複扣款",
                [
                    "你好，我剛看了信用卡帳單，訂單 {order} 被扣了兩次款，每次 {amount}。請幫我退回重複的那筆。",
                    "您好，同一筆訂單 {order} 我的信用卡被刷了兩次，我只下了一張訂單，麻煩幫我確認一下。",
                ],
                "您好，非常抱歉造成您的困擾。我看到訂單 {order} 有兩筆付款紀錄，第二筆是重複的預先授權。我已經請付款部門取消，3 到 5 個工作天內就會從您的帳單上消失。",
                "謝謝。退款處理好之後會收到 Email 通知嗎？",
                "會的，款項釋放後系統會寄確認信給您。請問還有其他需要協助的地方嗎？",
            ),
        },
    ),
    Scenario(
        "refund",
        "billing",
        ("refund", "returns"),
        (1, 6, 2, 0),
        {
            "en": _s(
                "Refund for returned item",
                [
                    "Hello, I sent back the jacket from order {order} two weeks ago but haven't received my refund yet. The tracking says it was delivered to your warehouse.",
                    "Hi, when will I get my money back for order {order}? I returned everything on the 3rd.",
                ],
                "Thanks for your patience, {name}. Your return for order {order} was checked in yesterday and the refund of {amount} has now been issued to your original payment method.",
                "Great, how long does it usually take to show up on my card?",
                "Usually 3 to 5 business days, depending on your bank. I'll keep this conversation open until you confirm it has arrived.",
            ),
            "it": _s(
                "Rimborso per un reso",
                [
                    "Buongiorno, ho restituito la giacca dell'ordine {order} due settimane fa ma non ho ancora ricevuto il rimborso. Il tracciamento dice che è arrivata al vostro magazzino.",
                    "Salve, quando riceverò il rimborso per l'ordine {order}? Ho spedito il reso il 3 del mese.",
                ],
                "Grazie per la pazienza, {name}. Il reso dell'ordine {order} è stato registrato ieri e il rimborso di {amount} è stato emesso sul metodo di pagamento originale.",
                "Ottimo, quanto tempo ci vuole di solito per vederlo sulla carta?",
                "Di solito da 3 a 5 giorni lavorativi, a seconda della banca. Lascio aperta la conversazione finché non mi conferma l'accredito.",
            ),
            "pl": _s(
                "Zwrot pieniędzy za odesłany towar",
                [
                    "Dzień dobry, dwa tygodnie temu odesłałem kurtkę z zamówienia {order}, ale nadal nie dostałem zwrotu pieniędzy. Według śledzenia paczka dotarła do Państwa magazynu.",
                    "Witam, kiedy otrzymam zwrot za zamówienie {order}? Paczkę ze zwrotem nadałam 3. dnia miesiąca.",
                ],
                "Dziękujemy za cierpliwość. Zwrot z zamówienia {order} został wczoraj przyjęty, a kwota {amount} została przelana na pierwotną metodę płatności.",
                "Świetnie, ile zwykle trwa, zanim pieniądze pojawią się na karcie?",
                "Zwykle od 3 do 5 dni roboczych, w zależności od banku. Zostawimy rozmowę otwartą, dopóki nie potwierdzą Państwo, że środki dotarły.",
            ),
            "zh-Hans": _s(
                "退货退款",
                [
                    "你好，我两周前把订单 {order} 的外套寄回去了，但还没收到退款。物流显示已经送到你们仓库了。",
                    "请问订单 {order} 的退款什么时候能到账？我3号就寄回了。",
                ],
                "感谢您的耐心等待。订单 {order} 的退货昨天已经入库，{amount} 的退款已原路退回到您的支付账户。",
                "太好了，一般多久能到账？",
                "一般需要 3 到 5 个工作日，具体取决于您的银行。在您确认到账之前，这个对话会一直保持打开。",
            ),
            "zh-Hant": _s(
                "退貨退款",
                [
                    "你好，我兩週前把訂單 {order} 的外套寄回去了，但還沒收到退款。物流顯示已經送到你們倉庫了。",
                    "請問訂單 {order} 的退款什麼時候會入帳？我 3 號就寄回了。",
                ],
                "感謝您耐心等候。訂單 {order} 的退貨昨天已經入庫，{amount} 的退款已退回您原本的付款方式。",
                "太好了，通常多久會入帳？",
                "一般需要 3 到 5 個工作天，視您的銀行而定。在您確認入帳之前，這個對話會保持開啟。",
            ),
        },
    ),
    Scenario(
        "invoice",
        "billing",
        ("invoice",),
        (3, 6, 1, 0),
        {
            "en": _s(
                "VAT invoice request",
                [
                    "Hi, could you send me a VAT invoice for order {order}? I need our company name and VAT number on it.",
                    "Hello, I need an invoice for my last purchase ({order}) for my expense report.",
                ],
                "Of course, {name}. Please reply with the company name, address and VAT number you'd like on the invoice and I'll issue it right away.",
                "Company: Northwind Ltd, 12 King Street, Leeds LS1 2HL, VAT GB123456789.",
                "Thank you, the invoice for order {order} has been generated and sent to your email address.",
            ),
            "it": _s(
                "Richiesta di fattura",
                [
                    "Buongiorno, potreste inviarmi la fattura dell'ordine {order}? Mi serve intestata alla mia azienda con partita IVA.",
                    "Salve, avrei bisogno della fattura per l'ultimo acquisto ({order}) per la nota spese.",
                ],
                "Certamente, {name}. Mi indichi ragione sociale, indirizzo e partita IVA da riportare in fattura e la emetto subito.",
                "Rossi Forniture S.r.l., Via Roma 12, 20121 Milano, P.IVA IT01234567890, codice SDI M5UXCR1.",
                "Grazie: la fattura dell'ordine {order} è stata emessa e inviata al suo indirizzo e-mail e tramite SDI.",
            ),
            "pl": _s(
                "Prośba o fakturę VAT",
                [
                    "Dzień dobry, proszę o wystawienie faktury VAT do zamówienia {order} na firmę, z numerem NIP.",
                    "Witam, potrzebuję faktury za ostatni zakup ({order}) do rozliczenia kosztów.",
                ],
                "Oczywiście. Proszę podać nazwę firmy, adres i NIP, a fakturę wystawimy od razu.",
                "Kowalski Sp. z o.o., ul. Marszałkowska 10, 00-590 Warszawa, NIP 5250001009.",
                "Dziękujemy — faktura do zamówienia {order} została wystawiona i wysłana na Państwa adres e-mail.",
            ),
            "zh-Hans": _s(
                "申请开具发票",
                [
                    "你好，能帮我开一下订单 {order} 的增值税专用发票吗？需要写公司抬头和税号。",
                    "您好，我上次购买的订单 {order} 需要开发票报销。",
                ],
                "当然可以。请提供发票抬头、地址和纳税人识别号，我马上为您开具。",
                "抬头：上海明达贸易有限公司，税号：91310000MA1K4C2X3Q，地址：上海市浦东新区世纪大道100号。",
                "谢谢，订单 {order} 的电子发票已经开具并发送到您的邮箱。",
            ),
            "zh-Hant": _s(
                "申請開立發票",
                [
                    "你好，可以幫我開訂單 {order} 的三聯式發票嗎？需要公司抬頭和統一編號。",
                    "您好，我上次購買的訂單 {order} 需要發票報帳。",
                ],
                "當然可以。請提供發票抬頭、地址和統一編號，我馬上為您開立。",
                "抬頭：台灣明達科技股份有限公司，統一編號：12345678，地址：台北市信義區松仁路100號。",
                "謝謝，訂單 {order} 的電子發票已經開立並寄到您的信箱。",
            ),
        },
    ),
    Scenario(
        "cancel_subscription",
        "billing",
        ("subscription", "cancellation"),
        (1, 7, 2, 0),
        {
            "en": _s(
                "Cancel my subscription",
                [
                    "Hi, I'd like to cancel my premium subscription before the next renewal. How do I do that?",
                    "Please cancel my subscription. I was charged {amount} again this month and I no longer use the service.",
                ],
                "I'm sorry to see you go, {name}. I've cancelled the automatic renewal; your plan stays active until the end of the current billing period and you won't be charged again.",
                "Thanks. Can I get a refund for this month since I haven't used it?",
                "I've made an exception and refunded this month's charge of {amount}. You'll see it on your statement in a few days.",
            ),
            "it": _s(
                "Disdetta abbonamento",
                [
                    "Buongiorno, vorrei disdire l'abbonamento premium prima del prossimo rinnovo. Come posso fare?",
                    "Per favore annullate il mio abbonamento: questo mese mi avete addebitato di nuovo {amount} e non uso più il servizio.",
                ],
                "Ci dispiace vederla andare via, {name}. Ho disattivato il rinnovo automatico: il piano resta attivo fino alla fine del periodo in corso e non riceverà altri addebiti.",
                "Grazie. Posso avere il rimborso di questo mese visto che non l'ho usato?",
                "Ho fatto un'eccezione e rimborsato l'addebito di questo mese di {amount}. Lo vedrà sull'estratto conto tra qualche giorno.",
            ),
            "pl": _s(
                "Rezygnacja z subskrypcji",
                [
                    "Dzień dobry, chciałbym zrezygnować z subskrypcji premium przed kolejnym odnowieniem. Jak to zrobić?",
                    "Proszę anulować moją subskrypcję — w tym miesiącu znowu pobrano {amount}, a już nie korzystam z usługi.",
                ],
                "Szkoda, że Państwo odchodzą. Automatyczne odnawianie zostało wyłączone; plan pozostaje aktywny do końca bieżącego okresu rozliczeniowego i nie będzie już kolejnych obciążeń.",
                "Dziękuję. Czy mogę dostać zwrot za ten miesiąc, skoro z niego nie korzystałem?",
                "Wyjątkowo zwróciliśmy opłatę za ten miesiąc w wysokości {amount}. Pojawi się na wyciągu w ciągu kilku dni.",
            ),
            "zh-Hans": _s(
                "取消订阅",
                [
                    "你好，我想在下次续费前取消高级会员订阅，请问怎么操作？",
                    "请帮我取消订阅，这个月又扣了我 {amount}，我已经不用这个服务了。",
                ],
                "很遗憾您要离开。我已为您关闭自动续费，当前会员有效期到本计费周期结束，之后不会再扣费。",
                "谢谢。这个月我没怎么用，能退这个月的费用吗？",
                "我们为您特殊处理，已退还本月的 {amount}，几天内会显示在您的账单上。",
            ),
            "zh-Hant": _s(
                "取消訂閱",
                [
                    "你好，我想在下次續約前取消進階會員訂閱，請問要怎麼操作？",
                    "請幫我取消訂閱，這個月又扣了我 {amount}，我已經沒有在用這個服務了。",
                ],
                "很遺憾您要離開。我已為您關閉自動續訂，目前的方案會維持到本期結束，之後不會再扣款。",
                "謝謝。這個月我幾乎沒用，可以退這個月的費用嗎？",
                "我們為您特別處理，已退還本月的 {amount}，幾天內會顯示在您的帳單上。",
            ),
        },
    ),
    Scenario(
        "login",
        "tech",
        ("login", "account"),
        (0, 5, 4, 1),
        {
            "en": _s(
                "Can't log in to my account",
                [
                    "Hi, I can't log in to my account. It keeps saying my password is wrong but I'm sure it's correct.",
                    "Hello, I reset my password twice but the reset email never arrives. I'm locked out.",
                ],
                "Sorry for the trouble, {name}. Your account was temporarily locked after several failed attempts. I've unlocked it and sent a fresh password reset link; please check your spam folder too.",
                "Got it, the link worked and I'm back in. Thanks!",
                "Glad to hear it! If it happens again, let us know and we'll take a look straight away.",
            ),
            "it": _s(
                "Non riesco ad accedere",
                [
                    "Buongiorno, non riesco ad accedere al mio account: dice che la password è sbagliata ma sono sicuro che sia corretta.",
                    "Salve, ho chiesto due volte il reset della password ma l'e-mail non arriva mai. Sono bloccata fuori.",
                ],
                "Mi scusi per il disagio, {name}. L'account era stato bloccato temporaneamente dopo vari tentativi falliti. L'ho sbloccato e le ho inviato un nuovo link per reimpostare la password: controlli anche la cartella spam.",
                "Ricevuto, il link ha funzionato e sono di nuovo dentro. Grazie!",
                "Ottimo! Se dovesse succedere di nuovo ci scriva pure e controlliamo subito.",
            ),
            "pl": _s(
                "Nie mogę się zalogować",
                [
                    "Dzień dobry, nie mogę zalogować się na konto. Cały czas wyświetla się, że hasło jest błędne, a na pewno jest poprawne.",
                    "Witam, dwa razy resetowałam hasło, ale e-mail z linkiem nie przychodzi. Nie mam dostępu do konta.",
                ],
                "Przepraszamy za kłopot. Konto zostało tymczasowo zablokowane po kilku nieudanych próbach logowania. Odblokowaliśmy je i wysłaliśmy nowy link do zmiany hasła — proszę sprawdzić też folder spam.",
                "Link zadziałał, już mogę się zalogować. Dziękuję!",
                "Cieszymy się! Jeśli problem się powtórzy, prosimy o kontakt — od razu to sprawdzimy.",
            ),
            "zh-Hans": _s(
                "无法登录账户",
                [
                    "你好，我登录不了账户，一直提示密码错误，但我确定密码是对的。",
                    "您好，我重置了两次密码，但一直收不到重置邮件，现在完全登不进去。",
                ],
                "抱歉给您带来麻烦。您的账户因多次登录失败被临时锁定，我已经帮您解锁，并重新发送了密码重置链接，请同时查看一下垃圾邮件文件夹。",
                "收到了，链接可以用，已经登录成功，谢谢！",
                "太好了！如果再遇到问题，随时联系我们，我们会第一时间处理。",
            ),
            "zh-Hant": _s(
                "無法登入帳號",
                [
                    "你好，我登入不了帳號，一直顯示密碼錯誤，但我確定密碼是對的。",
                    "您好，我重設了兩次密碼，但一直收不到重設信，現在完全登不進去。",
                ],
                "抱歉造成您的不便。您的帳號因多次登入失敗被暫時鎖定，我已經幫您解鎖，並重新寄送密碼重設連結，也請檢查一下垃圾郵件匣。",
                "收到了，連結可以用，已經登入成功，謝謝！",
                "太好了！如果再遇到問題，歡迎隨時聯絡我們，我們會馬上處理。",
            ),
        },
    ),
    Scenario(
        "two_factor",
        "tech",
        ("login", "2fa"),
        (0, 4, 5, 1),
        {
            "en": _s(
                "Verification code not arriving",
                [
                    "I'm not receiving the SMS verification code when I try to sign in. I've tried five times.",
                    "Hi, I got a new phone and now I can't get the two-factor code. What can I do?",
                ],
                "Thanks for reaching out, {name}. For your security I need to verify your identity first: could you confirm the last four digits of the card used on your most recent order?",
                "It's 4821.",
                "Thank you, that matches. I've reset two-factor authentication on your account; you'll be asked to set it up again at your next sign-in.",
            ),
            "it": _s(
                "Il codice di verifica non arriva",
                [
                    "Non ricevo l'SMS con il codice di verifica quando provo ad accedere. Ho provato cinque volte.",
                    "Buongiorno, ho cambiato telefono e ora non riesco più a ricevere il codice di autenticazione a due fattori. Cosa posso fare?",
                ],
                "Grazie per averci contattato, {name}. Per la sua sicurezza devo prima verificare la sua identità: può confermarmi le ultime quattro cifre della carta usata nell'ultimo ordine?",
                "Sono 4821.",
                "Grazie, corrisponde. Ho reimpostato l'autenticazione a due fattori: al prossimo accesso le verrà chiesto di configurarla di nuovo.",
            ),
            "pl": _s(
                "Nie dostaję kodu weryfikacyjnego",
                [
                    "Nie dostaję SMS-a z kodem weryfikacyjnym przy logowaniu. Próbowałem już pięć razy.",
                    "Dzień dobry, zmieniłam telefon i teraz nie mogę odebrać kodu do logowania dwuetapowego. Co mogę zrobić?",
                ],
                "Dziękujemy za kontakt. Ze względów bezpieczeństwa musimy najpierw potwierdzić tożsamość: proszę podać ostatnie cztery cyfry karty użytej przy ostatnim zamówieniu.",
                "4821.",
                "Dziękujemy, zgadza się. Logowanie dwuetapowe zostało zresetowane; przy następnym logowaniu pojawi się prośba o ponowną konfigurację.",
            ),
            "zh-Hans": _s(
                "收不到验证码",
                [
                    "我登录的时候收不到短信验证码，已经试了五次了。",
                    "你好，我换了新手机，现在收不到双重验证的验证码了，怎么办？",
                ],
                "感谢您的联系。为了您的账户安全，需要先核实身份：请提供您最近一笔订单所用银行卡的后四位。",
                "是 4821。",
                "谢谢，信息一致。我已重置您账户的双重验证，下次登录时会提示您重新设置。",
            ),
            "zh-Hant": _s(
                "收不到驗證碼",
                [
                    "我登入的時候收不到簡訊驗證碼，已經試了五次了。",
                    "你好，我換了新手機，現在收不到兩步驟驗證的驗證碼，該怎麼辦？",
                ],
                "感謝您的來信。為了您的帳號安全，需要先確認您的身分：請提供您最近一筆訂單所使用信用卡的末四碼。",
                "是 4821。",
                "謝謝，資料相符。我已重設您帳號的兩步驟驗證，下次登入時會請您重新設定。",
            ),
        },
    ),
    Scenario(
        "app_crash",
        "tech",
        ("mobile-app", "bug"),
        (1, 5, 3, 1),
        {
            "en": _s(
                "App crashes on startup",
                [
                    "The app crashes every time I open it since yesterday's update. I'm on Android 14.",
                    "Hi, the iPhone app closes immediately when I tap on 'My orders'.",
                ],
                "Thanks for the report, {name}. This is a known issue with the latest version and our developers are already working on a fix. In the meantime, clearing the app cache or reinstalling usually helps.",
                "Reinstalling worked, but I had to log in again. Just so you know.",
                "Thanks for letting us know! The fixed version should be in the app store within a couple of days.",
            ),
            "it": _s(
                "L'app si chiude all'avvio",
                [
                    "Dall'aggiornamento di ieri l'app si chiude ogni volta che la apro. Ho Android 14.",
                    "Salve, l'app per iPhone si chiude appena tocco 'I miei ordini'.",
                ],
                "Grazie per la segnalazione, {name}. È un problema noto dell'ultima versione e i nostri sviluppatori stanno già lavorando alla correzione. Nel frattempo di solito aiuta svuotare la cache o reinstallare l'app.",
                "Reinstallando ha funzionato, però ho dovuto rifare l'accesso. Giusto per saperlo.",
                "Grazie della segnalazione! La versione corretta sarà sullo store entro un paio di giorni.",
            ),
            "pl": _s(
                "Aplikacja zamyka się przy starcie",
                [
                    "Od wczorajszej aktualizacji aplikacja zamyka się za każdym razem, gdy ją otwieram. Mam Androida 14.",
                    "Dzień dobry, aplikacja na iPhone'a wyłącza się, gdy tylko klikam „Moje zamówienia”.",
                ],
                "Dziękujemy za zgłoszenie. To znany problem w najnowszej wersji i nasi programiści już pracują nad poprawką. Do tego czasu zwykle pomaga wyczyszczenie pamięci podręcznej aplikacji lub jej ponowna instalacja.",
                "Ponowna instalacja pomogła, ale musiałem zalogować się od nowa. Tak dla informacji.",
                "Dziękujemy za informację! Poprawiona wersja pojawi się w sklepie z aplikacjami w ciągu kilku dni.",
            ),
            "zh-Hans": _s(
                "App 启动就闪退",
                [
                    "昨天更新以后，App 每次一打开就闪退。我的手机是安卓 14。",
                    "你好，iPhone 上的 App 一点“我的订单”就自动退出了。",
                ],
                "感谢您的反馈。这是最新版本的已知问题，开发团队正在修复。在此期间，清除 App 缓存或重新安装通常可以解决。",
                "重新安装以后好了，不过需要重新登录，跟你们说一声。",
                "谢谢告知！修复后的版本会在几天内上架应用商店。",
            ),
            "zh-Hant": _s(
                "App 一開啟就閃退",
                [
                    "昨天更新之後，App 每次一打開就閃退。我的手機是 Android 14。",
                    "你好，iPhone 上的 App 一點「我的訂單」就自動關閉了。",
                ],
                "感謝您的回報。這是最新版本的已知問題，開發團隊正在修正。在此之前，清除 App 快取或重新安裝通常可以解決。",
                "重新安裝之後就好了，不過要重新登入，跟你們說一聲。",
                "謝謝告知！修正後的版本會在幾天內上架。",
            ),
        },
    ),
    Scenario(
        "order_status",
        "care",
        ("order",),
        (3, 6, 1, 0),
        {
            "en": _s(
                "Where is my order {order}?",
                [
                    "Hi, I placed order {order} five days ago and it still says 'processing'. When will it ship?",
                    "Hello, can you tell me the status of order {order}? I need it before the weekend.",
                ],
                "Hi {name}, thanks for your patience. Order {order} left our warehouse this morning; you'll receive the tracking number by email shortly. Expected delivery is in 2 business days.",
                "Perfect, thank you for checking.",
                "You're welcome! Have a great day.",
            ),
            "it": _s(
                "Dov'è il mio ordine {order}?",
                [
                    "Buongiorno, ho fatto l'ordine {order} cinque giorni fa e risulta ancora 'in lavorazione'. Quando verrà spedito?",
                    "Salve, potete dirmi lo stato dell'ordine {order}? Mi serve entro il fine settimana.",
                ],
                "Buongiorno {name}, grazie per la pazienza. L'ordine {order} è partito stamattina dal nostro magazzino; a breve riceverà via e-mail il numero di tracciamento. La consegna è prevista entro 2 giorni lavorativi.",
                "Perfetto, grazie per aver controllato.",
                "Di nulla! Buona giornata.",
            ),
            "pl": _s(
                "Gdzie jest moje zamówienie {order}?",
                [
                    "Dzień dobry, złożyłem zamówienie {order} pięć dni temu i nadal ma status „w realizacji”. Kiedy zostanie wysłane?",
                    "Witam, jaki jest status zamówienia {order}? Potrzebuję go przed weekendem.",
                ],
                "Dzień dobry, dziękujemy za cierpliwość. Zamówienie {order} wyjechało dziś rano z magazynu; numer przesyłki przyjdzie wkrótce e-mailem. Przewidywana dostawa to 2 dni robocze.",
                "Super, dziękuję za sprawdzenie.",
                "Nie ma za co! Miłego dnia.",
            ),
            "zh-Hans": _s(
                "我的订单 {order} 到哪了？",
                [
                    "你好，我五天前下的订单 {order} 到现在还显示“处理中”，什么时候发货？",
                    "您好，能帮我查一下订单 {order} 的状态吗？周末前需要用。",
                ],
                "您好，感谢您的耐心等待。订单 {order} 今天上午已经从仓库发出，物流单号稍后会通过邮件发送给您，预计 2 个工作日内送达。",
                "好的，谢谢帮我查询。",
                "不客气！祝您生活愉快。",
            ),
            "zh-Hant": _s(
                "我的訂單 {order} 到哪裡了？",
                [
                    "你好，我五天前下的訂單 {order} 到現在還顯示「處理中」，什麼時候會出貨？",
                    "您好，可以幫我查一下訂單 {order} 的狀態嗎？週末前需要用到。",
                ],
                "您好，感謝您耐心等候。訂單 {order} 今天早上已經從倉庫出貨，物流單號稍後會以 Email 寄給您，預計 2 個工作天內送達。",
                "好的，謝謝幫我查詢。",
                "不客氣！祝您有美好的一天。",
            ),
        },
    ),
    Scenario(
        "delivery_delay",
        "care",
        ("delivery", "delay"),
        (1, 5, 3, 1),
        {
            "en": _s(
                "Delivery is late",
                [
                    "My parcel was supposed to arrive on Monday and the tracking hasn't updated for four days. Order {order}.",
                    "Hi, the courier marked my order {order} as delivered but I haven't received anything.",
                ],
                "I'm sorry about the delay, {name}. I've opened an investigation with the courier for order {order}. They usually reply within 48 hours, and I'll update you as soon as I hear back.",
                "Any news from the courier? It's been two days.",
                "The courier has located your parcel at the local depot; it will be delivered tomorrow. As an apology, I've added a {amount} voucher to your account.",
            ),
            "it": _s(
                "Consegna in ritardo",
                [
                    "Il pacco doveva arrivare lunedì e il tracciamento è fermo da quattro giorni. Ordine {order}.",
                    "Salve, il corriere ha segnato l'ordine {order} come consegnato ma io non ho ricevuto nulla.",
                ],
                "Mi dispiace per il ritardo, {name}. Ho aperto una verifica con il corriere per l'ordine {order}. Di solito rispondono entro 48 ore e la aggiornerò appena avrò notizie.",
                "Novità dal corriere? Sono passati due giorni.",
                "Il corriere ha trovato il pacco nel deposito locale: verrà consegnato domani. Per scusarci le abbiamo accreditato un buono da {amount}.",
            ),
            "pl": _s(
                "Opóźniona dostawa",
                [
                    "Paczka miała dotrzeć w poniedziałek, a śledzenie nie zmieniło się od czterech dni. Zamówienie {order}.",
                    "Dzień dobry, kurier oznaczył zamówienie {order} jako doręczone, ale nic nie dostałam.",
                ],
                "Przepraszamy za opóźnienie. Złożyliśmy reklamację u przewoźnika w sprawie zamówienia {order}. Zwykle odpowiadają w ciągu 48 godzin — damy znać, gdy tylko coś będzie wiadomo.",
                "Czy są jakieś wieści od kuriera? Minęły już dwa dni.",
                "Przewoźnik odnalazł paczkę w lokalnym oddziale — zostanie doręczona jutro. W ramach przeprosin dodaliśmy do konta bon o wartości {amount}.",
            ),
            "zh-Hans": _s(
                "快递延误",
                [
                    "我的包裹本来周一就该到了，物流信息已经四天没更新了。订单号 {order}。",
                    "你好，快递显示订单 {order} 已签收，但我根本没收到。",
                ],
                "非常抱歉快递延误了。我已经就订单 {order} 向快递公司发起查询，他们通常会在 48 小时内回复，有消息我会第一时间通知您。",
                "快递公司那边有消息了吗？已经两天了。",
                "快递公司在本地网点找到了您的包裹，明天会派送。为表歉意，我们已向您的账户发放一张 {amount} 的优惠券。",
            ),
            "zh-Hant": _s(
                "包裹延遲送達",
                [
                    "我的包裹原本週一就該到了，物流資訊已經四天沒有更新。訂單編號 {order}。",
                    "你好，物流顯示訂單 {order} 已經簽收，但我根本沒有收到。",
                ],
                "非常抱歉包裹延遲了。我已經針對訂單 {order} 向物流公司提出查詢，他們通常會在 48 小時內回覆，一有消息會馬上通知您。",
                "物流公司那邊有消息了嗎？已經兩天了。",
                "物流公司在當地營業所找到了您的包裹，明天會配送。為表歉意，我們已在您的帳戶中加入一張 {amount} 的折價券。",
            ),
        },
    ),
    Scenario(
        "damaged_item",
        "care",
        ("returns", "damaged"),
        (0, 5, 4, 1),
        {
            "en": _s(
                "Item arrived damaged",
                [
                    "The vase I ordered ({order}) arrived broken. The box was crushed on one side.",
                    "Hi, the screen of the tablet I received is cracked. Order {order}. What should I do?",
                ],
                "I'm really sorry, {name}. Could you send us a photo of the item and the packaging? Then I'll arrange a free replacement straight away.",
                "Here are the photos, the damage is on the left side.",
                "Thank you. A replacement is on its way and a prepaid return label has been emailed to you for the damaged item.",
            ),
            "it": _s(
                "Articolo arrivato danneggiato",
                [
                    "Il vaso che ho ordinato ({order}) è arrivato rotto. La scatola era schiacciata su un lato.",
                    "Buongiorno, lo schermo del tablet che ho ricevuto è crepato. Ordine {order}. Come devo fare?",
                ],
                "Mi dispiace molto, {name}. Può inviarci una foto dell'articolo e dell'imballo? Poi organizzo subito una sostituzione gratuita.",
                "Ecco le foto, il danno è sul lato sinistro.",
                "Grazie. La sostituzione è in viaggio e le abbiamo inviato via e-mail un'etichetta di reso prepagata per l'articolo danneggiato.",
            ),
            "pl": _s(
                "Towar dotarł uszkodzony",
                [
                    "Wazon z zamówienia {order} przyszedł stłuczony. Karton był zgnieciony z jednej strony.",
                    "Dzień dobry, ekran tabletu, który dostałem, jest pęknięty. Zamówienie {order}. Co mam zrobić?",
                ],
                "Bardzo nam przykro. Prosimy o zdjęcie produktu i opakowania — wtedy od razu wyślemy bezpłatny egzemplarz zastępczy.",
                "Przesyłam zdjęcia, uszkodzenie jest z lewej strony.",
                "Dziękujemy. Nowy produkt jest już w drodze, a etykietę zwrotną na uszkodzony towar wysłaliśmy e-mailem.",
            ),
            "zh-Hans": _s(
                "商品到货破损",
                [
                    "我订的花瓶（订单 {order}）收到时已经碎了，箱子一侧被压扁了。",
                    "你好，收到的平板电脑屏幕是裂的，订单 {order}，我该怎么处理？",
                ],
                "真的非常抱歉。麻烦您拍一下商品和外包装的照片发给我们，我马上为您安排免费换货。",
                "照片发过来了，破损在左边。",
                "谢谢。新的商品已经寄出，破损商品的预付退货标签也已发送到您的邮箱。",
            ),
            "zh-Hant": _s(
                "商品到貨時破損",
                [
                    "我訂的花瓶（訂單 {order}）收到時已經破了，箱子有一邊被壓扁。",
                    "你好，收到的平板螢幕是裂的，訂單 {order}，我該怎麼處理？",
                ],
                "真的非常抱歉。麻煩您拍下商品和外包裝的照片傳給我們，我馬上為您安排免費換貨。",
                "照片傳過去了，破損在左邊。",
                "謝謝。新的商品已經寄出，破損商品的預付退貨標籤也已寄到您的信箱。",
            ),
        },
    ),
    Scenario(
        "address_change",
        "care",
        ("order", "address-change"),
        (1, 6, 3, 0),
        {
            "en": _s(
                "Change delivery address",
                [
                    "Hi, I entered my old address on order {order}. Can you change it to my new one before it ships?",
                    "Hello, is it still possible to change the shipping address for order {order}?",
                ],
                "Yes, the order hasn't shipped yet, {name}. Please send the full new address and I'll update it.",
                "Flat 4, 27 Baker Street, London NW1 6XE.",
                "Done, order {order} will be delivered to the new address. You'll receive an updated confirmation by email.",
            ),
            "it": _s(
                "Modifica indirizzo di consegna",
                [
                    "Buongiorno, nell'ordine {order} ho inserito il vecchio indirizzo. Potete cambiarlo prima della spedizione?",
                    "Salve, è ancora possibile modificare l'indirizzo di spedizione dell'ordine {order}?",
                ],
                "Sì, l'ordine non è ancora partito, {name}. Mi mandi il nuovo indirizzo completo e lo aggiorno.",
                "Via Garibaldi 45, 10122 Torino, citofono Bianchi.",
                "Fatto: l'ordine {order} sarà consegnato al nuovo indirizzo. Riceverà una conferma aggiornata via e-mail.",
            ),
            "pl": _s(
                "Zmiana adresu dostawy",
                [
                    "Dzień dobry, w zamówieniu {order} podałem stary adres. Czy można go zmienić przed wysyłką?",
                    "Witam, czy da się jeszcze zmienić adres dostawy dla zamówienia {order}?",
                ],
                "Tak, zamówienie nie zostało jeszcze wysłane. Proszę podać pełny nowy adres, a od razu go zaktualizujemy.",
                "ul. Długa 15/3, 31-147 Kraków.",
                "Gotowe — zamówienie {order} zostanie dostarczone pod nowy adres. Zaktualizowane potwierdzenie przyjdzie e-mailem.",
            ),
            "zh-Hans": _s(
                "修改收货地址",
                [
                    "你好，订单 {order} 我填成了旧地址，发货前能帮我改一下吗？",
                    "您好，订单 {order} 现在还能修改收货地址吗？",
                ],
                "可以的，订单还没有发货。请把完整的新地址发给我，我帮您更新。",
                "北京市朝阳区建国路88号 3号楼 1502室，张女士收。",
                "已经改好了，订单 {order} 会送到新地址，更新后的确认邮件稍后发送给您。",
            ),
            "zh-Hant": _s(
                "修改收件地址",
                [
                    "你好，訂單 {order} 我填成舊地址了，出貨前可以幫我改嗎？",
                    "您好，訂單 {order} 現在還能修改收件地址嗎？",
                ],
                "可以的，訂單還沒出貨。請把完整的新地址傳給我，我幫您更新。",
                "台北市大安區復興南路一段 200 號 5 樓，林小姐收。",
                "已經改好了，訂單 {order} 會寄到新地址，更新後的確認信稍後寄給您。",
            ),
        },
    ),
    Scenario(
        "discount_code",
        "care",
        ("promo", "sales"),
        (4, 5, 1, 0),
        {
            "en": _s(
                "Discount code not working",
                [
                    "The code WELCOME15 from your newsletter says it's invalid at checkout.",
                    "Hi, my birthday discount code says it has expired, but the email said it's valid until the end of the month.",
                ],
                "Thanks for your message, {name}! I've checked and applied the discount manually; you can complete the order now and the price will be adjusted.",
                "It works now, thank you!",
                "Happy shopping, and thanks for choosing us!",
            ),
            "it": _s(
                "Il codice sconto non funziona",
                [
                    "Il codice BENVENUTO15 della newsletter risulta non valido al checkout.",
                    "Salve, il codice sconto per il compleanno risulta scaduto, ma nell'e-mail c'era scritto che valeva fino a fine mese.",
                ],
                "Grazie per il messaggio, {name}! Ho verificato e applicato lo sconto manualmente: ora può completare l'ordine e il prezzo verrà aggiornato.",
                "Ora funziona, grazie mille!",
                "Buono shopping e grazie per averci scelto!",
            ),
            "pl": _s(
                "Kod rabatowy nie działa",
                [
                    "Kod WITAJ15 z newslettera przy płatności wyświetla się jako nieważny.",
                    "Dzień dobry, urodzinowy kod rabatowy podobno wygasł, a w e-mailu było napisane, że jest ważny do końca miesiąca.",
                ],
                "Dziękujemy za wiadomość! Sprawdziliśmy i naliczyliśmy rabat ręcznie — można już dokończyć zamówienie, cena zostanie skorygowana.",
                "Teraz działa, dziękuję bardzo!",
                "Udanych zakupów i dziękujemy za wybór naszego sklepu!",
            ),
            "zh-Hans": _s(
                "优惠码无法使用",
                [
                    "结账的时候输入新闻邮件里的优惠码 WELCOME15，提示无效。",
                    "你好，生日优惠码显示已过期，但邮件里写的是月底前有效。",
                ],
                "感谢您的留言！我已经核实，并手动为您应用了折扣，现在可以完成下单，价格会自动调整。",
                "现在可以用了，非常感谢！",
                "祝您购物愉快，感谢您的支持！",
            ),
            "zh-Hant": _s(
                "折扣碼無法使用",
                [
                    "結帳時輸入電子報裡的折扣碼 WELCOME15，顯示無效。",
                    "你好，生日折扣碼顯示已過期，但信裡寫的是月底前都有效。",
                ],
                "感謝您的留言！我已經確認，並手動為您套用折扣，現在可以完成訂購，價格會自動調整。",
                "現在可以用了，非常感謝！",
                "祝您購物愉快，感謝您的支持！",
            ),
        },
    ),
)

# Lines that fit any scenario: thanks, nudges, the agent asking for something, goodbyes, internal notes.
GENERIC: dict[str, dict[str, list[str]]] = {
    "en": {
        "thanks": [
            "Thank you so much for your help!",
            "Great, thanks a lot.",
            "Perfect, that's all I needed.",
        ],
        "nudge": ["Hi, any update on this?", "Hello? I'm still waiting for an answer."],
        "ask": [
            "Could you please confirm the email address you used for the order?",
            "Could you send me a screenshot of the error message?",
        ],
        "bye": [
            "You're welcome! Don't hesitate to contact us if you need anything else.",
            "Happy to help. Have a nice day!",
        ],
        "note": [
            "Repeat customer, offered a goodwill voucher.",
            "Checked with payments: duplicate authorisation only.",
            "Escalated to tier 2, waiting for their answer.",
        ],
    },
    "it": {
        "thanks": [
            "Grazie mille per l'aiuto!",
            "Perfetto, grazie.",
            "Ottimo, era tutto quello che mi serviva.",
        ],
        "nudge": ["Buongiorno, ci sono novità?", "Salve? Sto ancora aspettando una risposta."],
        "ask": [
            "Può confermarmi l'indirizzo e-mail usato per l'ordine?",
            "Può inviarmi uno screenshot del messaggio di errore?",
        ],
        "bye": [
            "Di nulla! Non esiti a contattarci per qualsiasi cosa.",
            "È stato un piacere. Buona giornata!",
        ],
        "note": [
            "Cliente abituale, offerto buono come gesto di cortesia.",
            "Verificato con il reparto pagamenti: solo preautorizzazione duplicata.",
            "Inoltrato al secondo livello, in attesa di risposta.",
        ],
    },
    "pl": {
        "thanks": ["Bardzo dziękuję za pomoc!", "Super, dzięki.", "Świetnie, o to właśnie chodziło."],
        "nudge": ["Dzień dobry, czy są jakieś nowe informacje?", "Halo? Nadal czekam na odpowiedź."],
        "ask": [
            "Prosimy o potwierdzenie adresu e-mail użytego przy zamówieniu.",
            "Prosimy o zrzut ekranu z komunikatem błędu.",
        ],
        "bye": [
            "Nie ma za co! W razie pytań jesteśmy do dyspozycji.",
            "Cieszymy się, że mogliśmy pomóc. Miłego dnia!",
        ],
        "note": [
            "Stały klient, zaproponowano bon w ramach rekompensaty.",
            "Sprawdzone z działem płatności: tylko zduplikowana autoryzacja.",
            "Przekazano do drugiej linii wsparcia, czekamy na odpowiedź.",
        ],
    },
    "zh-Hans": {
        "thanks": ["非常感谢你们的帮助！", "好的，谢谢。", "太好了，问题解决了，谢谢。"],
        "nudge": ["你好，请问有进展了吗？", "还在吗？我还在等回复。"],
        "ask": ["麻烦确认一下下单时使用的邮箱地址。", "能发一张错误提示的截图给我吗？"],
        "bye": ["不客气！如有其他问题随时联系我们。", "很高兴能帮到您，祝您愉快！"],
        "note": [
            "老客户，已赠送优惠券作为补偿。",
            "已与支付部门确认：只是重复预授权。",
            "已升级至二线支持，等待回复。",
        ],
    },
    "zh-Hant": {
        "thanks": ["非常感謝你們的幫忙！", "好的，謝謝。", "太好了，問題解決了，謝謝。"],
        "nudge": ["你好，請問有進度了嗎？", "還在嗎？我還在等回覆。"],
        "ask": ["麻煩確認一下下單時使用的 Email 地址。", "可以傳一張錯誤訊息的截圖給我嗎？"],
        "bye": ["不客氣！如有其他問題，歡迎隨時聯絡我們。", "很高興能幫上忙，祝您順心！"],
        "note": [
            "老客戶，已提供折價券作為補償。",
            "已與付款部門確認：只是重複預先授權。",
            "已轉交二線支援，等待回覆。",
        ],
    },
}

# --- the organisation -------------------------------------------------------------------------------

TEAMS = {
    "billing": ("Billing", ["Billing", "Refunds", "Payments"]),
    "tech": ("Technical Support", ["Technical", "Login & security", "Mobile app"]),
    "care": ("Customer Care", ["Orders & shipping", "Returns", "Sales"]),
}

# username, display name, role, teams, languages, skills (name → level), capacity, presence, time zone
AGENTS: tuple[
    tuple[str, str, str, tuple[str, ...], list[str], dict[str, int], dict[str, int], str, str], ...
] = (
    (
        "sarah",
        "Sarah Mitchell",
        "supervisor",
        ("care", "billing"),
        ["en", "it"],
        {"Orders & shipping": 3, "Billing": 2, "Sales": 3},
        {"email": 10, "webchat": 3, "whatsapp": 4, "voice": 1},
        "online",
        "Europe/London",
    ),
    (
        "fang",
        "王芳",
        "agent",
        ("tech",),
        ["zh-Hans", "zh-Hant", "en"],
        {"Technical": 3, "Login & security": 2, "Mobile app": 2},
        {"email": 8, "webchat": 4, "voice": 1},
        "online",
        "Asia/Shanghai",
    ),
    (
        "yiting",
        "陳怡婷",
        "agent",
        ("care",),
        ["zh-Hant", "zh-Hans", "en"],
        {"Orders & shipping": 2, "Returns": 3},
        {"email": 10, "webchat": 3, "whatsapp": 5, "telegram": 4},
        "away",
        "Asia/Taipei",
    ),
    (
        "giulia",
        "Giulia Conti",
        "agent",
        ("billing",),
        ["it", "en"],
        {"Billing": 3, "Refunds": 3, "Payments": 2},
        {"email": 12, "webchat": 3, "whatsapp": 4},
        "online",
        "Europe/Rome",
    ),
    (
        "marco",
        "Marco Bellini",
        "agent",
        ("tech",),
        ["it", "en"],
        {"Technical": 2, "Mobile app": 3},
        {"email": 8, "webchat": 3, "voice": 1},
        "offline",
        "Europe/Rome",
    ),
    (
        "kasia",
        "Katarzyna Zielińska",
        "agent",
        ("billing", "care"),
        ["pl", "en"],
        {"Billing": 2, "Payments": 3, "Returns": 2},
        {"email": 10, "webchat": 3, "messenger": 4},
        "online",
        "Europe/Warsaw",
    ),
    (
        "tomek",
        "Tomasz Lewandowski",
        "agent",
        ("tech",),
        ["pl", "en"],
        {"Technical": 3, "Login & security": 3},
        {"email": 8, "webchat": 4, "sms": 5},
        "away",
        "Europe/Warsaw",
    ),
    (
        "daniel",
        "Daniel Okafor",
        "agent",
        ("care", "billing"),
        ["en"],
        {"Orders & shipping": 3, "Sales": 2, "Refunds": 1},
        {"email": 10, "webchat": 3, "whatsapp": 4, "sms": 5},
        "offline",
        "America/New_York",
    ),
)

# name, kind, team
INBOXES: tuple[tuple[str, str, str], ...] = (
    ("Support e-mail", "email", "care"),
    ("Billing e-mail", "email", "billing"),
    ("Website chat", "webchat", "care"),
    ("WhatsApp", "whatsapp", "care"),
    ("SMS", "sms", "care"),
    ("Telegram", "telegram", "tech"),
    ("Messenger", "messenger", "care"),
    ("Shop API", "api", "billing"),
)

# Final status weights: resolved, closed, open, pending, snoozed.
STATUS_WEIGHTS = {"resolved": 44, "closed": 16, "open": 22, "pending": 12, "snoozed": 6}
CHAT_KINDS = {"webchat", "whatsapp", "telegram", "messenger", "sms"}


@dataclass
class Summary:
    teams: int = 0
    agents: int = 0
    inboxes: int = 0
    contacts: int = 0
    conversations: int = 0
    messages: int = 0
    channel_switches: int = 0
    languages: Counter = field(default_factory=Counter)
    seconds: float = 0.0


@dataclass
class _Person:
    contact: Any
    locale: str
    given: str
    claims: dict[str, Any]  # inbox kind → IdentityClaim


def seed(
    force: bool = False,
    *,
    stdout: IO[str] | None = None,
    random_seed: int = 20261123,
    contacts: int = CONTACTS,
    conversations: int = CONVERSATIONS,
) -> Summary | None:
    """Fill the database with the demo workspace; without `force`, only if it has no conversations yet.
    Returns what was made, or None when nothing was."""

    out = stdout or sys.stdout
    if not force and Conversation.objects.exists():
        out.write(
            _(
                "The database already has conversations, so the demo was not seeded again "
                "(nothing changed). Run `omnidesk demo --force` to add the demo data anyway."
            )
            + "\n"
        )
        return None
    started = time.monotonic()
    rng = random.Random(random_seed + Conversation.objects.count())
    summary = Summary()
    with muted(), transaction.atomic():
        _Seeder(rng, summary, contacts=contacts, conversations=conversations).run()
    summary.seconds = time.monotonic() - started
    _print_summary(out, summary)
    return summary


def _print_summary(out: IO[str], s: Summary) -> None:
    out.write(
        _(
            "Seeded the demo workspace in %(seconds).1f s: %(teams)d teams, %(agents)d agents, %(inboxes)d inboxes, "
            "%(contacts)d contacts, %(conversations)d conversations, %(messages)d messages, "
            "%(switches)d channel switches."
        )
        % {
            "seconds": s.seconds,
            "teams": s.teams,
            "agents": s.agents,
            "inboxes": s.inboxes,
            "contacts": s.contacts,
            "conversations": s.conversations,
            "messages": s.messages,
            "switches": s.channel_switches,
        }
        + "\n"
    )
    languages = ", ".join(f"{code} {n}" for code, n in sorted(s.languages.items()))
    out.write(_("Conversations by language: %(languages)s") % {"languages": languages} + "\n")
    out.write(_("Demo replies are stored as already sent: nothing was sent to any channel.") + "\n")
    out.write(
        _("Sign in at %(url)s/ with username %(username)s and password %(password)s (administrator).")
        % {"url": settings.PUBLIC_URL, "username": ADMIN_USERNAME, "password": DEMO_PASSWORD}
        + "\n"
    )
    out.write(
        _("The demo agents (%(usernames)s) use the same password.")
        % {"usernames": ", ".join(a[0] for a in AGENTS)}
        + "\n"
    )


class _Seeder:
    """Builds the workspace; one instance per seed() call."""

    def __init__(self, rng: random.Random, summary: Summary, *, contacts: int, conversations: int) -> None:
        self.contact_count = contacts
        self.conversation_count = max(conversations, contacts)
        self.rng = rng
        self.summary = summary
        self.now = timezone.now()
        self.clock_started = self.now
        self.password_hash = make_password(DEMO_PASSWORD)

    def run(self) -> None:
        self.teams, self.skills = self._teams()
        self.agents = self._agents()
        self.inboxes = self._inboxes()
        self.people = self._contacts()
        self._conversations()

    # --- organisation ------------------------------------------------------------------------------

    def _teams(self) -> tuple[dict[str, Any], dict[str, Any]]:

        teams, skills = {}, {}
        for key, (name, skill_names) in TEAMS.items():
            team, _created = Team.objects.get_or_create(name=name)
            teams[key] = team
            for skill_name in skill_names:
                skills[skill_name], _created = Skill.objects.get_or_create(name=skill_name)
            team.skills.add(*(skills[n] for n in skill_names))
        self.summary.teams = len(teams)
        return teams, skills

    def _agents(self) -> dict[str, Any]:

        users = get_user_model().objects
        agents: dict[str, Any] = {}
        admin_user = users.filter(username=ADMIN_USERNAME).first()
        if admin_user is None:
            admin_user = users.create(
                username=ADMIN_USERNAME,
                email="admin@example.com",
                first_name="Alex",
                last_name="Admin",
                is_staff=True,
                is_superuser=True,
                password=self.password_hash,
            )
        if not AgentProfile.objects.filter(user=admin_user).exists():
            AgentProfile.objects.create(
                user=admin_user,
                role=Role.ADMIN,
                display_name="Alex Admin",
                languages=["en"],
                presence="online",
            )
        for username, display, role, team_keys, languages, skill_levels, capacity, presence, tz in AGENTS:
            user = users.filter(username=username).first()
            if user is None:
                user = users.create(
                    username=username, email=f"{username}@example.com", password=self.password_hash
                )
            profile = AgentProfile.objects.filter(user=user).first()
            if profile is None:
                profile = AgentProfile.objects.create(
                    user=user,
                    display_name=display,
                    role=role,
                    languages=languages,
                    capacity=capacity,
                    presence=presence,
                    time_zone=tz,
                )
                profile.teams.add(*(self.teams[k] for k in team_keys))
                AgentSkill.objects.bulk_create(
                    [
                        AgentSkill(agent=profile, skill=self.skills[name], level=level)
                        for name, level in skill_levels.items()
                    ]
                )
            agents[username] = profile
        self.summary.agents = len(agents) + 1
        self.admin = admin_user.agent
        self.team_agents: dict[str, list[Any]] = defaultdict(list)
        for username, _display, _role, team_keys, *_rest in AGENTS:
            for key in team_keys:
                self.team_agents[key].append(agents[username])
        return agents

    def _inboxes(self) -> dict[str, Any]:

        inboxes: dict[str, Any] = {}
        for name, kind, team_key in INBOXES:
            inbox = Inbox.objects.filter(name=name, kind=kind).first()
            if inbox is None:
                inbox = Inbox(name=name, kind=kind, default_team=self.teams[team_key], settings={})
                if kind != "webchat":  # the widget greets with the expected reply time itself
                    # Only the placeholder: the sentence then reads in each customer's own language.
                    inbox.auto_acknowledgement = "{expected_reply}"
                if kind == "api":
                    inbox.set_secrets({"signing_secret": secrets.token_urlsafe(24)})
                inbox.save()
            # The first inbox of each kind is where that channel's customers write.
            inboxes.setdefault(kind, inbox)
        self.summary.inboxes = len(INBOXES)
        return inboxes

    # --- contacts ----------------------------------------------------------------------------------

    def _name(self, locale: str) -> tuple[str, str, str]:
        """(display name, given name, e-mail local part)."""
        r = self.rng
        if locale == "en":
            first, last = r.choice(_EN_FIRST), r.choice(_EN_LAST)
            return f"{first} {last}", first, f"{first}.{last}".lower().translate(_ASCII)
        if locale == "it":
            first, last = r.choice(_IT_FIRST), r.choice(_IT_LAST)
            return f"{first} {last}", first, f"{first}.{last}".lower().translate(_ASCII)
        if locale == "pl":
            if r.random() < 0.5:
                first, last = r.choice(_PL_FEMALE), r.choice(_PL_LAST)[1]
            else:
                first, last = r.choice(_PL_MALE), r.choice(_PL_LAST)[0]
            return f"{first} {last}", first, f"{first}.{last}".lower().translate(_ASCII)
        lasts, firsts = (
            (_ZH_HANS_LAST, _ZH_HANS_FIRST) if locale == "zh-Hans" else (_ZH_HANT_LAST, _ZH_HANT_FIRST)
        )
        (last, last_r), (first, first_r) = r.choice(lasts), r.choice(firsts)
        return f"{last}{first}", f"{last}{first}", f"{first_r}.{last_r}"

    def _phone(self, locale: str, n: int) -> str:
        country, prefixes, digits = self.rng.choice(_LOCALE[locale]["phone"])
        prefix = self.rng.choice(prefixes)
        # The counter keeps numbers unique; the random high digits keep them from looking sequential.
        number = (n * 7919 + self.rng.randrange(10)) % (10**digits)
        return f"{country}{prefix}{number:0{digits}d}"

    def _contacts(self) -> list[_Person]:

        r = self.rng
        offset = Contact.objects.count()
        domains = ["example.com", "example.net", "example.org"]
        pending: list[tuple[_Person, list[Any]]] = []
        for i in range(self.contact_count):
            locale = LANGUAGES[i % len(LANGUAGES)]
            n = offset + i
            name, given, local = self._name(locale)
            claims: dict[str, Any] = {"email": IdentityClaim("email", f"{local}{n}@{r.choice(domains)}")}
            if r.random() < 0.85:
                phone = self._phone(locale, n)
                claims["sms"] = claims["whatsapp"] = IdentityClaim("phone", phone)
            claims["webchat"] = IdentityClaim(
                "webchat",
                f"v_{uuid.UUID(int=r.getrandbits(128)).hex[:20]}",
                scope=str(self.inboxes["webchat"].uuid),
            )
            if r.random() < 0.35:
                claims["telegram"] = IdentityClaim("telegram", str(100_000_000 + n * 7717 + r.randrange(97)))
            if r.random() < 0.3:
                claims["messenger"] = IdentityClaim(
                    "messenger",
                    str(6_000_000_000_000_000 + n * 1_000_003),
                    scope=str(self.inboxes["messenger"].uuid),
                )
            if r.random() < 0.3:
                claims["api"] = IdentityClaim(
                    "external", f"cust_{n:06d}", scope=str(self.inboxes["api"].uuid)
                )
            contact = Contact(
                name=name,
                language=locale,
                time_zone=r.choice(_LOCALE[locale]["tz"]),
                company=r.choice(_COMPANIES) if r.random() < 0.2 else "",
                vip=r.random() < 0.08,
                attributes={"customer_since": str(2016 + r.randrange(10)), "orders": r.randrange(1, 40)},
            )
            person = _Person(contact, locale, given, claims)
            pending.append((person, normalize_claims(list({id(c): c for c in claims.values()}.values()))))
        Contact.objects.bulk_create([p.contact for p, _claims in pending])
        # Identities already on record (a --force run next to real data) stay with their owner.
        values = {c.value for _p, claims in pending for c in claims}
        taken = set(ContactIdentity.objects.filter(value__in=values).values_list("kind", "scope", "value"))
        identities = []
        for person, claims in pending:
            for c in claims:
                if (c.kind, c.scope, c.value) not in taken:
                    taken.add((c.kind, c.scope, c.value))
                    identities.append(
                        ContactIdentity(
                            contact=person.contact, kind=c.kind, scope=c.scope, value=c.value, verified=True
                        )
                    )
                else:
                    person.claims = {k: v for k, v in person.claims.items() if v.value != c.value}
        ContactIdentity.objects.bulk_create(identities, batch_size=500)
        self.summary.contacts = len(pending)
        return [p for p, _claims in pending if p.claims]

    # --- conversations -----------------------------------------------------------------------------

    def _plan(self) -> list[tuple[_Person, dt.datetime, str]]:
        """(person, start time, final status) for every conversation, oldest first. Only a contact's
        latest conversation may still be active, as continuity would otherwise merge them."""
        r = self.rng
        counts = Counter({id(p): 1 for p in self.people})
        extra = self.conversation_count - len(self.people)
        weights = [3 if p.contact.vip else 1 for p in self.people]
        for p in r.choices(self.people, weights=weights, k=max(extra, 0)):
            counts[id(p)] += 1
        plan: list[tuple[_Person, dt.datetime, str]] = []
        statuses, status_weights = zip(*STATUS_WEIGHTS.items(), strict=True)
        for person in self.people:
            k = counts[id(person)]
            # Skewed towards recent days, as a growing shop's traffic is.
            ages = sorted((DAYS * (1 - r.random() ** 0.7) for _ in range(k)), reverse=True)
            for j, age_days in enumerate(ages):
                last = j == k - 1
                status = (
                    r.choices(statuses, weights=status_weights)[0]
                    if last
                    else r.choice(["resolved", "closed"])
                )
                if status in ("open", "pending", "snoozed"):
                    age_days = min(age_days, r.uniform(0.05, 2.5))
                start = self.now - dt.timedelta(days=age_days)
                plan.append((person, start, status))
        plan.sort(key=lambda item: item[1])
        return plan

    def _conversations(self) -> None:

        self.tags = {
            name: Tag.objects.get_or_create(name=name)[0]
            for name in sorted({t for s in SCENARIOS for t in s.tags} | {"vip", "escalated", "follow-up"})
        }
        self.rows: list[Any] = []  # messages inserted directly, in one bulk_create at the end
        self.retimed: list[Any] = []
        self.inbound_ids: list[int] = []
        self.tag_links: list[Any] = []
        conversations = []
        order_no = 48_000 + self.rng.randrange(1000)
        for person, start, status in self._plan():
            order_no += self.rng.randrange(3, 40)
            conversations.append(self._conversation(person, start, status, f"#{order_no}"))
        Message.objects.bulk_create(self.rows, batch_size=500)
        Message.objects.bulk_update(self.retimed, ["created_at"], batch_size=500)
        Conversation.tags.through.objects.bulk_create(self.tag_links, batch_size=500)
        self._drop_inbound_tasks()
        self.summary.conversations = len(conversations)
        self.summary.messages = Message.objects.filter(conversation__in=conversations, kind="text").count()

    def _script(self, status: str, lang: str, scenario: Scenario) -> list[tuple[str, str]]:
        """The turns of one conversation as (who, line key): who is "in", "out" or "note"."""
        r = self.rng
        if status in ("resolved", "closed"):
            turns = [("in", "open"), ("out", "reply")]
            if r.random() < 0.75:
                turns += [("in", "follow"), ("out", "close")]
            if r.random() < 0.6:
                turns += [("in", "thanks")] + ([("out", "bye")] if r.random() < 0.6 else [])
        elif status == "open":
            turns = [("in", "open")]
            roll = r.random()
            if roll < 0.35:
                turns += [("in", "nudge")] if r.random() < 0.4 else []
            elif roll < 0.75:
                turns += [("out", "reply"), ("in", "follow")]
            else:
                turns += [("out", "reply"), ("in", "nudge")]
        elif status == "pending":
            turns = [("in", "open"), ("out", "reply")] + (
                [("in", "follow"), ("out", "ask")] if r.random() < 0.5 else [("out", "ask")]
            )
        else:  # snoozed: promised to come back (a courier, a developer fix)
            turns = [("in", "open"), ("out", "reply")]
        if r.random() < 0.15 and any(w == "out" for w, _k in turns):
            at = next(i for i, (w, _k) in enumerate(turns) if w == "out") + 1
            turns.insert(at, ("note", "note"))
        return turns

    def _line(self, lang: str, scenario: Scenario, key: str, ctx: dict[str, str]) -> str:
        texts = scenario.texts[lang]
        value = texts[key] if key in texts else GENERIC[lang][key]
        if isinstance(value, list):
            value = self.rng.choice(value)
        return value.format(**ctx)

    def _conversation(self, person: _Person, start: dt.datetime, status: str, order: str) -> Any:

        r = self.rng
        lang = person.locale
        scenario = r.choice(SCENARIOS)
        ctx = {
            "order": order,
            "name": person.given,
            "amount": _LOCALE[lang]["money"](r.choice([19.9, 34.5, 49.9, 89.0, 129.0])),
        }
        turns = self._script(status, lang, scenario)
        kinds = [k for k in _LOCALE[lang]["channels"] if k in person.claims]
        channel = r.choices(kinds, weights=[_LOCALE[lang]["channels"][k] for k in kinds])[0]
        # Some customers move to another channel for a later message (the email is slow, the chat closed).
        inbound_turns = [i for i, (w, _k) in enumerate(turns) if w == "in"]
        others = [k for k in kinds if k != channel]
        switch_at = (
            r.choice(inbound_turns[1:]) if len(inbound_turns) > 1 and others and r.random() < 0.2 else None
        )
        second_channel = r.choice(others) if switch_at is not None else None
        team_key = scenario.team
        candidates = [a for a in self.team_agents[team_key] if lang in a.languages] or self.team_agents[
            team_key
        ]
        assignee = r.choice(candidates)
        if status == "open" and r.random() < 0.3:
            assignee = None  # waiting in the queue
        times = self._timeline(start, turns, channel, second_channel, switch_at)
        conversation: Conversation | None = None
        inbound_times: list[dt.datetime] = []
        first_response: dt.datetime | None = None
        current_kind = channel
        texts = 0
        for index, (who, key) in enumerate(turns):
            when = times[index]
            if who == "in":
                if index == switch_at:
                    current_kind = second_channel or channel
                inbox = self.inboxes[current_kind]
                text = self._line(lang, scenario, key, ctx)
                event = InboundEvent(
                    external_id=f"demo-{uuid.UUID(int=r.getrandbits(128)).hex}",
                    identities=[person.claims[current_kind]],
                    text=text,
                    language=lang,
                    subject=scenario.texts[lang]["subject"].format(**ctx) if current_kind == "email" else "",
                    contact_name=person.contact.name,
                )
                if switch_at is None:
                    # No channel switch: plain history, inserted in bulk (receive_message would add
                    # nothing the demo shows, and costs a second per 20 messages on a busy SQLite).
                    if conversation is None:
                        conversation = Conversation.objects.create(
                            contact=person.contact,
                            current_inbox=inbox,
                            team=self.teams[team_key],
                            language=lang,
                            subject=(event.subject or text)[:120],
                            last_message_at=when,
                            last_inbound_at=when,
                        )
                    self.rows.append(
                        Message(
                            conversation=conversation,
                            inbox=inbox,
                            direction="in",
                            kind="text",
                            sender_type="contact",
                            text=text,
                            language=lang,
                            subject=event.subject,
                            external_id=event.external_id,
                            status="received",
                            created_at=when,
                        )
                    )
                    inbound_times.append(when)
                    texts += 1
                    continue
                message = receive_message(inbox, event).message
                if conversation is None:
                    conversation = Conversation.objects.get(pk=message.conversation_id)
                elif message.conversation_id != conversation.pk:  # pragma: no cover - the plan prevents it
                    raise RuntimeError("demo conversation split unexpectedly")
                if index == switch_at:
                    self.summary.channel_switches += 1
                    switch = (
                        Message.objects.filter(
                            conversation_id=conversation.pk,
                            kind="event",
                            meta__event=EventType.CHANNEL_SWITCH,
                        )
                        .order_by("-pk")
                        .first()
                    )
                    if switch is not None:
                        switch.created_at = when - dt.timedelta(seconds=1)
                        self.retimed.append(switch)
                message.created_at = when
                self.retimed.append(message)
                self.inbound_ids.append(message.pk)
                inbound_times.append(when)
                texts += 1
            else:
                assert conversation is not None
                author = assignee or r.choice(self.team_agents[team_key])
                if who == "out" and first_response is None and assignee is not None:
                    self._event(
                        conversation,
                        when - dt.timedelta(seconds=30),
                        EventType.ASSIGNED,
                        agent=assignee.name,
                        by="system",
                    )
                if who == "note":
                    self.rows.append(
                        Message(
                            conversation=conversation,
                            direction="out",
                            kind="note",
                            sender_type="agent",
                            sender_agent=author,
                            text=self._line(lang, scenario, "note", ctx),
                            status="sent",
                            language=lang,
                            created_at=when,
                            meta={"demo": True},
                        )
                    )
                    continue
                self.rows.append(
                    Message(
                        conversation=conversation,
                        inbox=self.inboxes[current_kind],
                        direction="out",
                        kind="text",
                        sender_type="agent",
                        sender_agent=author,
                        text=self._line(lang, scenario, key, ctx),
                        language=lang,
                        status=r.choice(["sent", "delivered", "read", "read"]),
                        created_at=when,
                        sent_at=when,
                        meta={"demo": True},
                    )
                )
                first_response = first_response or when
                texts += 1
        assert conversation is not None
        last = max(t for (who, _key), t in zip(turns, times, strict=True) if who != "note")
        if status in ("resolved", "closed", "snoozed"):
            self._event(
                conversation,
                min(last + dt.timedelta(minutes=r.randint(1, 30)), self.now),
                EventType.STATUS,
                status=status,
                by=assignee.name if assignee else "system",
            )
        conversation.status = status
        conversation.priority = r.choices(range(4), weights=scenario.priority)[0]
        conversation.assignee = assignee
        conversation.team = self.teams[team_key]
        conversation.created_at = start
        conversation.last_message_at = last
        conversation.last_inbound_at = max(inbound_times)
        conversation.first_response_at = first_response
        closed_at = min(last + dt.timedelta(minutes=r.randint(1, 30)), self.now)
        conversation.resolved_at = closed_at if status in ("resolved", "closed") else None
        conversation.snoozed_until = (
            self.now + dt.timedelta(hours=r.randint(6, 72)) if status == "snoozed" else None
        )
        conversation.message_count = texts
        conversation.vip = person.contact.vip
        conversation.sentiment = round(
            r.uniform(-0.8, -0.2)
            if scenario.key in ("double_charge", "damaged_item", "delivery_delay")
            else r.uniform(-0.1, 0.7),
            2,
        )
        tags = set(scenario.tags)
        if person.contact.vip:
            tags.add("vip")
        if conversation.priority == 3:
            tags.add("escalated")
        if status == "pending" and r.random() < 0.5:
            tags.add("follow-up")
        # Written now, not at the end: continuity must see this conversation closed (and in the past)
        # before the same contact's next one is received.
        Conversation.objects.filter(pk=conversation.pk).update(
            **{
                f: getattr(conversation, f)
                for f in (
                    "status",
                    "priority",
                    "created_at",
                    "last_message_at",
                    "last_inbound_at",
                    "first_response_at",
                    "resolved_at",
                    "snoozed_until",
                    "message_count",
                    "vip",
                    "sentiment",
                )
            },
            assignee=assignee,
            team=self.teams[team_key],
        )
        through = Conversation.tags.through
        self.tag_links.extend(
            through(conversation_id=conversation.pk, tag_id=self.tags[t].pk) for t in sorted(tags)
        )
        self.summary.languages[lang] += 1
        return conversation

    def _event(self, conversation: Any, when: dt.datetime, event_type: str, **meta: Any) -> None:

        self.rows.append(
            Message(
                conversation=conversation,
                direction="out",
                kind="event",
                sender_type="system",
                status="sent",
                created_at=when,
                meta={"event": event_type, **meta},
            )
        )

    def _timeline(
        self,
        start: dt.datetime,
        turns: list[tuple[str, str]],
        channel: str,
        second_channel: str | None,
        switch_at: int | None,
    ) -> list[dt.datetime]:
        """When each turn happened: chat-fast or e-mail-slow, a pause before a channel switch, and
        squeezed so that a recent conversation does not end in the future."""
        gaps = [dt.timedelta(0)]
        kind = channel
        for index, (who, _key) in enumerate(turns[1:], start=1):
            gap = self._gap(kind, who)
            if index == switch_at:
                kind = second_channel or channel
                gap += dt.timedelta(hours=self.rng.uniform(1, 20))
            gaps.append(gap)
        total = sum(gaps, dt.timedelta(0))
        room = (self.now - dt.timedelta(minutes=3)) - start
        if total > room:
            scale = max(room, dt.timedelta(seconds=len(gaps))) / total if total else 1
            gaps = [g * scale for g in gaps]
        times, when = [], start
        for gap in gaps:
            when += gap
            times.append(when)
        return times

    def _gap(self, kind: str, who: str) -> dt.timedelta:
        r = self.rng
        if kind in CHAT_KINDS:
            minutes = r.uniform(0.5, 12) if who != "in" else r.uniform(0.3, 25)
        else:
            minutes = r.uniform(15, 480) if who != "in" else r.uniform(20, 900)
        return dt.timedelta(minutes=minutes)

    def _drop_inbound_tasks(self) -> None:
        """The seeded messages are history: their inbound processing (routing, auto-acknowledgement)
        must not run later and rewrite it."""

        ids = set(self.inbound_ids)
        stale = [
            row.pk
            for row in DBTaskResult.objects.filter(
                Q(task_path__endswith="process_inbound"), enqueued_at__gte=self.clock_started
            ).only("pk", "args_kwargs")
            if (row.args_kwargs.get("args") or [None])[0] in ids
        ]
        for start in range(0, len(stale), 500):
            DBTaskResult.objects.filter(pk__in=stale[start : start + 500]).delete()
