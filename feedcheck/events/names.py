"""TikTok's event names (the standard ones, the legacy ones and what each became), its content types, and what
an event_id that is a placeholder looks like."""

from __future__ import annotations

import re

LEGACY_NAMES = {
    "CompletePayment": "Purchase",
    "SubmitForm": "Lead",
    "ClickForm": "Lead",
    "AddBilling": "AddPaymentInfo",
    "Browse": "PageView",
    "Checkout": "PlaceAnOrder",
    "ClickInDownloadPage": "ClickButton",
    "ClickToDownload": "Download",
    "Consult": "Contact",
    "ConsultByPhone": "Contact",
    "Registration": "CompleteRegistration",
    "StartCheckout": "InitiateCheckout",
    "ViewConsultationPage": "ViewContent",
    "ViewDownloadPage": "ViewContent",
    "ViewForm": "ViewContent",
}
STANDARD_NAMES = frozenset({
    "ViewContent", "AddToCart", "Purchase", "InitiateCheckout", "AddPaymentInfo", "AddToWishlist", "PlaceAnOrder",
    "Search", "CompleteRegistration", "Subscribe", "Contact", "Download", "Lead", "ClickButton", "StartTrial",
    "SubmitApplication", "ApplicationApproval", "PageView",
})
BY_FOLDED = {name.casefold(): name for name in STANDARD_NAMES | set(LEGACY_NAMES)}
CONTENT_TYPES = ("product", "product_group")
PLACEHOLDER_IDS = {"", "undefined", "null", "none", "nan", "[object object]", "(not set)", "false", "0"}
TEMPLATE_ID = re.compile(r"^(\{\{.*\}\}|\$\{.*\}|%%.*%%|<.*>)$")
MAX_NAMES = 1000  # distinct event names counted; a log of random names must not grow memory
