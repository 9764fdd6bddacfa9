"""Request models of the simulated API, written from the v2 schema so that validation errors have the
same FastAPI/pydantic shape (`type`, `loc`, `msg`, `input`) as the real service's 422 responses.

Field types, defaults and limits follow the generated models of browser-use-sdk 3.12.1, which are newer
than the published OpenAPI document (more models in the LLM enum, the `ci` proxy country, `thinkingLevel`).
Nullability follows the document instead: FastAPI generated it from the server's models, while the SDK's
generator makes every optional field nullable. So `"flashMode": null` is a 422, as `bool = False` gives.
"""

import enum
from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from tasks_ui.api_enums import PROXY_COUNTRIES, SUPPORTED_LLMS

SupportedLLM = enum.StrEnum("SupportedLLM", {name: name for name in SUPPORTED_LLMS})
ProxyCountryCode = enum.StrEnum("ProxyCountryCode", {code: code for code in PROXY_COUNTRIES})


# Enums rather than Literals, because FastAPI reports a bad enum value with the error type "enum".
class ThinkingLevel(enum.StrEnum):
    DISABLED = "disabled"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class TaskStatus(enum.StrEnum):
    CREATED = "created"
    STARTED = "started"
    FINISHED = "finished"
    FAILED = "failed"
    STOPPED = "stopped"


class SessionStatus(enum.StrEnum):
    ACTIVE = "active"
    STOPPED = "stopped"


class TaskUpdateAction(enum.StrEnum):
    STOP = "stop"
    STOP_TASK_AND_SESSION = "stop_task_and_session"


class SessionUpdateAction(enum.StrEnum):
    STOP = "stop"


class SkillCategory(enum.StrEnum):
    SEARCH = "search"
    E_COMMERCE = "e_commerce"
    FINANCIAL = "financial"
    NEWS = "news"
    REAL_ESTATE = "real_estate"
    SOCIAL_MEDIA = "social_media"
    TRAVEL = "travel"
    MARKETPLACE = "marketplace"
    LEAD_GENERATION = "lead_generation"
    SEO = "seo"
    JOBS = "jobs"
    DEVELOPER = "developer"
    MEDIA = "media"
    AUTOMATION = "automation"
    INTEGRATION = "integration"
    OTHER = "other"


ScreenWidth = Annotated[int, Field(ge=320, le=6144)]
ScreenHeight = Annotated[int, Field(ge=320, le=3456)]
PageSize = Annotated[int, Field(ge=1, le=100)]
PageNumber = Annotated[int, Field(ge=1)]


class _Request(BaseModel):
    # Like the real API, unknown fields are ignored and values are read by their camelCase names.
    model_config = ConfigDict(extra="ignore", populate_by_name=False)


class SessionSettings(_Request):
    profileId: UUID | None = None
    proxyCountryCode: ProxyCountryCode | None = ProxyCountryCode("us")
    browserScreenWidth: ScreenWidth | None = None
    browserScreenHeight: ScreenHeight | None = None
    enableRecording: bool = False


class CreateTaskRequest(_Request):
    task: str = Field(min_length=1, max_length=50_000)
    llm: SupportedLLM = SupportedLLM("browser-use-2.0")
    startUrl: str | None = None
    maxSteps: int = Field(100, ge=1, le=10_000)
    structuredOutput: str | None = None
    sessionId: UUID | None = None
    # NOTE: the API documents "up to 10" metadata pairs but its schema sets no maxProperties, so the
    # sandbox accepts more, like the published schema. The dashboard's form enforces the 10.
    metadata: dict[str, str] | None = None
    secrets: dict[str, str] | None = None
    allowedDomains: list[str] | None = None
    opVaultId: str | None = None
    sessionSettings: SessionSettings | None = None
    highlightElements: bool = False
    flashMode: bool = False
    thinking: bool = False
    # NOTE: the real API also rejects some model/level pairs, with a status the SDK's field description
    # ("unsupported combinations are rejected") does not name. The sandbox accepts every pair.
    thinkingLevel: ThinkingLevel | None = None
    vision: bool | str = True
    systemPromptExtension: str = Field("", max_length=10_000)
    judge: bool = False
    judgeGroundTruth: str | None = Field(None, max_length=10_000)
    judgeLlm: SupportedLLM | None = None
    skillIds: list[str] | None = None


class UpdateTaskRequest(_Request):
    action: TaskUpdateAction


class CustomProxy(_Request):
    host: str = Field(min_length=1, max_length=255)
    port: int = Field(ge=1, le=65_535)
    username: str | None = Field(None, min_length=1, max_length=255)
    password: str | None = Field(None, min_length=1, max_length=255)
    ignoreCertErrors: bool = False


class CreateSessionRequest(_Request):
    profileId: UUID | None = None
    proxyCountryCode: ProxyCountryCode | None = ProxyCountryCode("us")
    startUrl: str | None = None
    browserScreenWidth: ScreenWidth | None = None
    browserScreenHeight: ScreenHeight | None = None
    persistMemory: bool = True
    keepAlive: bool = True
    customProxy: CustomProxy | None = None
    enableRecording: bool = False


class UpdateSessionRequest(_Request):
    action: SessionUpdateAction


class PagedQuery(_Request):
    pageSize: PageSize = 10
    pageNumber: PageNumber = 1


class TaskListQuery(PagedQuery):
    sessionId: UUID | None = None
    filterBy: TaskStatus | None = None
    # Naive values are read as UTC, like the API's own naive UTC timestamps.
    after: datetime | None = None
    before: datetime | None = None


class SessionListQuery(PagedQuery):
    filterBy: SessionStatus | None = None


class ProfileListQuery(PagedQuery):
    query: str | None = Field(None, max_length=200)


class SkillListQuery(PagedQuery):
    isPublic: bool | None = None
    isEnabled: bool | None = None
    category: SkillCategory | None = None
    query: str | None = Field(None, max_length=100)
    fromDate: datetime | None = None
    toDate: datetime | None = None
