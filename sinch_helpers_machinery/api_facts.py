"""Facts about the Sinch SMS REST API that the helpers rely on, each in one place.

Sources: the API reference (batches, parameters, delivery reports) and Ofcom's and NANPA's
number ranges reserved for fiction. ``tests/test_contract.py`` checks that the sandbox agrees.
"""

from __future__ import annotations

import re

#: Where a service plan lives: each region has its own host, and a token only works in its own.
REGIONS: dict[str, str] = {
    "us": "https://us.sms.api.sinch.com",
    "eu": "https://eu.sms.api.sinch.com",
    "au": "https://au.sms.api.sinch.com",
    "br": "https://br.sms.api.sinch.com",
    "ca": "https://ca.sms.api.sinch.com",
}
MAX_BATCH_RECIPIENTS = 1000
MAX_BODY_LENGTH = 2000
MAX_PARAMETER_VALUE = 1600
#: A parameter key: 1 to 16 letters, digits, ``_``, ``.`` or ``-``.
PARAMETER_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,16}")
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.\-]{1,16})\}")
#: Things that look like placeholders but are not (``{name}``, ``$name``, ``${bad key}``).
NEAR_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}|(?<!\$)\{([A-Za-z_][\w.\-]*)\}|\$([A-Za-z_]\w*)")
#: Statuses after which a recipient's delivery report no longer changes.
FINAL_STATUSES = frozenset(
    {"Delivered", "Failed", "Expired", "Rejected", "Aborted", "Cancelled", "Deleted", "Unknown"}
)
# Number ranges reserved for fiction (Ofcom's drama numbers, the North American 555-01xx): they
# are fine in the sandbox and never reach a real phone, so live sends refuse them.
FICTIONAL = re.compile(r"\+?(?:447700900\d{3}|1[2-9]\d{2}5550[1]\d{2})")

# The fields each request documents (the API reference's tables), by the API's own names. The
# helpers refuse any other keyword, so that a typo (``sendat=``) fails instead of being ignored.
#: A batch (``POST /batches``; a dry run and ``PUT`` take the same): the text, binary
#: (``udh``) and media (``strict_validation``) kinds together.
BATCH_FIELDS = frozenset(
    {
        "to", "from", "type", "body", "parameters", "delivery_report", "send_at", "expire_at",
        "callback_url", "client_reference", "feedback_enabled", "flash_message",
        "max_number_of_message_parts", "truncate_concat", "from_ton", "from_npi", "udh",
        "strict_validation",
    }
)  # fmt: skip
#: A group (``POST /groups``, ``PUT /groups/{id}``).
GROUP_FIELDS = frozenset({"name", "members", "child_groups", "auto_update"})
#: Each request's body fields, or for a list its filters (paging aside).
REQUEST_FIELDS: dict[str, frozenset[str]] = {
    "POST /batches": BATCH_FIELDS,
    "POST /batches/dry_run": BATCH_FIELDS,
    "PUT /batches/{id}": BATCH_FIELDS,
    # An update changes any field but the recipients, which it adds and removes instead.
    "POST /batches/{id}": (BATCH_FIELDS - {"to"}) | {"to_add", "to_remove"},
    "GET /batches": frozenset({"from", "start_date", "end_date", "client_reference"}),
    "GET /delivery_reports": frozenset(
        {"status", "code", "start_date", "end_date", "client_reference"}
    ),
    "GET /inbounds": frozenset({"to", "start_date", "end_date", "client_reference"}),
    "POST /groups": GROUP_FIELDS,
    "PUT /groups/{id}": GROUP_FIELDS,
    "POST /groups/{id}": frozenset(
        {"name", "add", "remove", "add_from_group", "remove_from_group", "auto_update"}
    ),
}
