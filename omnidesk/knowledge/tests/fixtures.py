"""Articles in several languages shared by knowledge, help center and bot tests (made through actions)."""

from __future__ import annotations

from omnidesk.knowledge import actions
from omnidesk.knowledge.constants import ArticleStatus, Visibility
from omnidesk.knowledge.models import Article, Category

REFUND = {
    "en": (
        "How do I get a refund?",
        "Refunds go back to the card you paid with.\n\nOpen **Orders**, choose the order and "
        "press *Request refund*. The money reaches your card within 5 business days.",
    ),
    "it": (
        "Come ottengo un rimborso?",
        "I rimborsi tornano sulla carta con cui hai pagato.\n\nApri **Ordini**, scegli "
        "l'ordine e premi *Richiedi rimborso*. Il denaro arriva sulla carta entro 5 giorni lavorativi.",
    ),
    "pl": (
        "Jak otrzymać zwrot pieniędzy?",
        "Zwrot trafia na kartę, którą zapłacono.\n\nOtwórz **Zamówienia**, wybierz "
        "zamówienie i naciśnij *Poproś o zwrot*. Pieniądze wrócą na kartę w ciągu 5 dni roboczych.",
    ),
    "zh-hans": (
        "如何申请退款？",
        "退款会退回到您付款时使用的银行卡。\n\n打开**订单**，选择订单并点击*申请退款*。款项将在5个工作日内到账。",
    ),
    "zh-hant": (
        "如何申請退款？",
        "退款會退回到您付款時使用的銀行卡。\n\n打開**訂單**，選擇訂單並點擊*申請退款*。款項將在5個工作日內到賬。",
    ),
}
PASSWORD = {
    "en": (
        "Resetting your password",
        "On the sign-in page press *Forgot password* and follow the link we e-mail you. "
        "The link works for one hour.",
    ),
    "zh-hant": (
        "重設密碼",
        "在登入頁面點擊*忘記密碼*，然後按照我們寄給您的電子郵件中的連結操作。連結在一小時內有效。",
    ),
}
SHIPPING = {
    "en": (
        "Shipping times",
        "Orders ship within 2 days. Delivery in Europe takes 3 to 5 days; tracking numbers "
        "arrive by e-mail when the parcel leaves our warehouse.",
    ),
    "it": (
        "Tempi di spedizione",
        "Gli ordini partono entro 2 giorni. La consegna in Europa richiede da 3 a 5 giorni; "
        "il numero di tracciamento arriva per e-mail quando il pacco lascia il magazzino.",
    ),
    "pl": (
        "Czas wysyłki",
        "Zamówienia wysyłamy w ciągu 2 dni. Dostawa w Europie trwa od 3 do 5 dni; numer "
        "przesyłki przychodzi e-mailem, gdy paczka opuści magazyn.",
    ),
}
INTERNAL_VAT = {
    "en": (
        "VAT exemption procedure (internal)",
        "Check the customer's VAT number in VIES before removing VAT from "
        "an invoice. Escalate exemptions above 10,000 EUR to finance.",
    ),
}


def make_article(
    texts: dict[str, tuple[str, str]],
    *,
    status: str = ArticleStatus.PUBLISHED,
    visibility: str = Visibility.PUBLIC,
    category: Category | None = None,
) -> Article:
    languages = list(texts)
    title, body = texts[languages[0]]
    article = actions.create_article(
        language=languages[0], title=title, body=body, status=status, visibility=visibility, category=category
    )
    for lang in languages[1:]:
        title, body = texts[lang]
        actions.save_translation(article, language=lang, title=title, body=body)
    return article


def knowledge_base() -> dict[str, Article]:
    billing = Category.objects.create(
        slug="billing",
        names={
            "en": "Billing",
            "it": "Fatturazione",
            "pl": "Płatności",
            "zh-hans": "账单",
            "zh-hant": "帳單",
        },
    )
    account = Category.objects.create(
        slug="account", position=1, names={"en": "Your account", "it": "Il tuo account"}
    )
    return {
        "refund": make_article(REFUND, category=billing),
        "password": make_article(PASSWORD, category=account),
        "shipping": make_article(SHIPPING),
        "internal": make_article(INTERNAL_VAT, visibility=Visibility.INTERNAL, category=billing),
        "draft": make_article(
            {"en": ("Gift cards (draft)", "Gift cards can be redeemed at checkout for any product.")},
            status=ArticleStatus.DRAFT,
        ),
    }
