"""Fixed records the sandbox serves read-only: browser profiles, skills and the project's account.

The real API lets a project create these. The dashboard only reads them, so the sandbox ships a small,
realistic set instead of simulating their creation.
"""

CREATED = "2026-11-01T09:00:00Z"
UPDATED = "2026-11-20T16:30:00Z"
PROJECT_ID = "7d1c0e55-5a4d-4b0c-9e21-000000000001"
API_KEY_ID = "3b6f9a2e-1c4d-4e8f-a0b1-000000000002"
# Credits a new sandbox project starts with: the monthly grant is spent before the top-up.
MONTHLY_CREDITS_USD = 20.0
ADDITIONAL_CREDITS_USD = 5.0

PROFILES = [
    {
        "id": "5b0b1c43-6d0e-4b8a-9a61-3f1e2d7c8a01",
        "userId": "alice@example.com",
        "name": "Shop account",
        "lastUsedAt": "2026-11-18T10:12:00Z",
        "createdAt": CREATED,
        "updatedAt": UPDATED,
        "cookieDomains": ["shop.example.com", ".example.com"],
    },
    {
        "id": "9c7e2b10-2f44-4d5e-8b9a-7d6c5b4a3f02",
        "userId": "support-bot",
        "name": "Support desk",
        "lastUsedAt": None,
        "createdAt": CREATED,
        "updatedAt": CREATED,
        "cookieDomains": ["help.example.org"],
    },
    {
        "id": "1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a03",
        "userId": None,
        "name": None,
        "lastUsedAt": None,
        "createdAt": CREATED,
        "updatedAt": CREATED,
        "cookieDomains": None,
    },
]

_SKILL_DEFAULTS = {
    "slug": None,
    "goal": None,
    "agentPrompt": None,
    "isPublic": False,
    "iconUrl": None,
    "firstPublishedAt": None,
    "lastPublishedAt": None,
    "code": None,
    "clonedFromSkillId": None,
}

# Covers what a skill picker must handle: required and optional parameters of several types, a
# cookie parameter, a disabled skill and one whose generation has not finished.
SKILLS = [
    {
        **_SKILL_DEFAULTS,
        "id": "0a6c2f1e-8d3b-4f5a-9c7e-51a2b3c4d501",
        "slug": "search-job-listings",
        "title": "Search job listings",
        "description": "Searches a job board and returns the newest matching listings.",
        "categories": ["jobs", "search"],
        "domains": ["jobs.example.com"],
        "goal": "Return job listings that match a query and a location",
        "agentPrompt": "Open jobs.example.com, search for the query in the location and collect the results.",
        "status": "finished",
        "parameters": [
            {"name": "query", "type": "string", "required": True, "description": "Job title or keywords",
             "default": None, "cookieDomain": None},
            {"name": "location", "type": "string", "required": False, "description": "City or Remote",
             "default": "Remote", "cookieDomain": None},
            {"name": "limit", "type": "number", "required": False, "description": "Maximum listings to return",
             "default": 10, "cookieDomain": None},
        ],
        "outputSchema": {
            "type": "object",
            "properties": {"listings": {"type": "array", "items": {"type": "object", "properties": {
                "title": {"type": "string"}, "company": {"type": "string"}, "url": {"type": "string"}}}}},
        },
        "isEnabled": True,
        "isPublic": True,
        "firstPublishedAt": "2026-11-02T12:00:00Z",
        "lastPublishedAt": "2026-11-15T08:00:00Z",
        "currentVersion": 3,
        "currentVersionStartedAt": "2026-11-15T07:52:00Z",
        "currentVersionFinishedAt": "2026-11-15T08:00:00Z",
        "createdAt": "2026-11-02T11:40:00Z",
        "updatedAt": "2026-11-15T08:00:00Z",
    },
    {
        **_SKILL_DEFAULTS,
        "id": "1b7d3a2f-9e4c-4a6b-8d8f-62b3c4d5e602",
        "slug": "track-product-price",
        "title": "Track product price",
        "description": "Reads the current price and stock of a product page.",
        "categories": ["e_commerce"],
        "domains": ["shop.example.com"],
        "goal": "Return the price, currency and availability of a product",
        "status": "finished",
        "parameters": [
            {"name": "productUrl", "type": "string", "required": True, "description": "Product page URL",
             "default": None, "cookieDomain": None},
            {"name": "includeShipping", "type": "boolean", "required": False,
             "description": "Add the shipping cost to the price", "default": False, "cookieDomain": None},
        ],
        "outputSchema": {
            "type": "object",
            "properties": {"price": {"type": "number"}, "currency": {"type": "string"},
                           "inStock": {"type": "boolean"}},
            "required": ["price", "currency"],
        },
        "isEnabled": True,
        "currentVersion": 1,
        "currentVersionStartedAt": "2026-11-05T14:00:00Z",
        "currentVersionFinishedAt": "2026-11-05T14:06:00Z",
        "createdAt": "2026-11-05T13:58:00Z",
        "updatedAt": "2026-11-05T14:06:00Z",
    },
    {
        **_SKILL_DEFAULTS,
        "id": "2c8e4b3a-0f5d-4b7c-9e9a-73c4d5e6f703",
        "slug": "download-monthly-invoice",
        "title": "Download monthly invoice",
        "description": "Signs in with a stored session cookie and downloads last month's invoice PDF.",
        "categories": ["financial", "automation"],
        "domains": ["billing.example.net"],
        "goal": "Download the invoice of a given month",
        "status": "finished",
        "parameters": [
            {"name": "month", "type": "string", "required": True, "description": "Month as YYYY-MM",
             "default": None, "cookieDomain": None},
            {"name": "sessionCookie", "type": "cookie", "required": True,
             "description": "Signed-in session cookie", "default": None, "cookieDomain": "billing.example.net"},
        ],
        "outputSchema": {"type": "object", "properties": {"fileName": {"type": "string"}}},
        "isEnabled": False,
        "currentVersion": 2,
        "currentVersionStartedAt": "2026-11-08T09:10:00Z",
        "currentVersionFinishedAt": "2026-11-08T09:19:00Z",
        "createdAt": "2026-11-07T17:20:00Z",
        "updatedAt": "2026-11-12T10:00:00Z",
    },
    {
        **_SKILL_DEFAULTS,
        "id": "3d9f5c4b-1a6e-4c8d-8fab-84d5e6f7a804",
        "slug": None,
        "title": "Summarize news headlines",
        "description": "Collects the top headlines of a news site with a one-line summary each.",
        "categories": ["news"],
        "domains": ["news.example.com"],
        "goal": "Return the ten top headlines with summaries",
        "agentPrompt": "Open news.example.com and summarize each headline on the front page.",
        "status": "generating",
        "parameters": [
            {"name": "section", "type": "string", "required": False, "description": "Section such as world",
             "default": "top", "cookieDomain": None},
            {"name": "filters", "type": "object", "required": False, "description": "Extra filters",
             "default": None, "cookieDomain": None},
        ],
        "outputSchema": {},
        "isEnabled": True,
        "currentVersion": None,
        "currentVersionStartedAt": "2026-11-20T16:25:00Z",
        "currentVersionFinishedAt": None,
        "createdAt": "2026-11-20T16:25:00Z",
        "updatedAt": "2026-11-20T16:30:00Z",
    },
]
