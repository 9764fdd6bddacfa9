"""Request models of the simulated API, written from the v2 schema so that validation errors have the
same FastAPI/pydantic shape (`type`, `loc`, `msg`, `input`) as the real service's 422 answers."""

import enum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from tasks_ui.api_enums import PROXY_COUNTRIES, SUPPORTED_LLMS

SupportedLLM = enum.StrEnum("SupportedLLM", {name: name for name in SUPPORTED_LLMS})
ProxyCountryCode = enum.StrEnum("ProxyCountryCode", {code: code for code in PROXY_COUNTRIES})
ThinkingLevel = Literal["disabled", "low", "medium", "high"]
TaskStatus = Literal["created", "started", "finished", "failed", "stopped"]

ScreenWidth = Annotated[int, Field(ge=320, le=6144)]
ScreenHeight = Annotated[int, Field(ge=320, le=3456)]


class _Request(BaseModel):
    # Like the real API, unknown fields are ignored and values are read by their camelCase names.
    model_config = ConfigDict(extra="ignore", populate_by_name=False)


class SessionSettings(_Request):
    profileId: UUID | None = None
    proxyCountryCode: ProxyCountryCode | None = ProxyCountryCode("us")
    browserScreenWidth: ScreenWidth | None = None
    browserScreenHeight: ScreenHeight | None = None
    enableRecording: bool | None = False


class CreateTaskRequest(_Request):
    task: str = Field(min_length=1, max_length=50_000)
    llm: SupportedLLM | None = SupportedLLM("browser-use-2.0")
    startUrl: str | None = None
    maxSteps: int | None = Field(100, ge=1, le=10_000)
    structuredOutput: str | None = None
    sessionId: UUID | None = None
    # NOTE: the API documents "up to 10" metadata pairs but its schema sets no maxProperties, so the
    # sandbox accepts more, like the published schema; the dashboard's form enforces the 10.
    metadata: dict[str, str] | None = None
    secrets: dict[str, str] | None = None
    allowedDomains: list[str] | None = None
    opVaultId: str | None = None
    sessionSettings: SessionSettings | None = None
    highlightElements: bool | None = False
    flashMode: bool | None = False
    thinking: bool | None = False
    thinkingLevel: ThinkingLevel | None = None
    vision: bool | str | None = True
    systemPromptExtension: str | None = Field("", max_length=10_000)
    judge: bool | None = False
    judgeGroundTruth: str | None = Field(None, max_length=10_000)
    judgeLlm: SupportedLLM | None = None
    skillIds: list[str] | None = None


class UpdateTaskRequest(_Request):
    action: Literal["stop", "stop_task_and_session"]


class CustomProxy(_Request):
    host: str = Field(min_length=1, max_length=255)
    port: int = Field(ge=1, le=65_535)
    username: str | None = Field(None, min_length=1, max_length=255)
    password: str | None = Field(None, min_length=1, max_length=255)
    ignoreCertErrors: bool | None = False


class CreateSessionRequest(_Request):
    profileId: UUID | None = None
    proxyCountryCode: ProxyCountryCode | None = ProxyCountryCode("us")
    startUrl: str | None = None
    browserScreenWidth: ScreenWidth | None = None
    browserScreenHeight: ScreenHeight | None = None
    persistMemory: bool | None = True
    keepAlive: bool | None = True
    customProxy: CustomProxy | None = None
    enableRecording: bool | None = False


class UpdateSessionRequest(_Request):
    action: Literal["stop"]


class TaskListQuery(_Request):
    pageSize: int = Field(10, ge=1, le=100)
    pageNumber: int = Field(1, ge=1)
    sessionId: UUID | None = None
    filterBy: TaskStatus | None = None
    after: str | None = None
    before: str | None = None


class SessionListQuery(_Request):
    pageSize: int = Field(10, ge=1, le=100)
    pageNumber: int = Field(1, ge=1)
    filterBy: Literal["active", "stopped"] | None = None


class PagedSearchQuery(_Request):
    pageSize: int = Field(10, ge=1, le=100)
    pageNumber: int = Field(1, ge=1)
    query: str | None = Field(None, max_length=200)
