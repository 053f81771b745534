"""The HTTP protocol: pydantic request and response models (the OpenAPI schema comes from
these). Requests forbid unknown fields, so a typo or an unsupported OpenAI feature (tools,
images, n > 1) is a clear 400 instead of being silently ignored.

Chat completions follow OpenAI's wire format so existing clients work with a base-URL change;
affagent's own data travels in the extra ``affagent`` field (request and response).
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"


def _no_bad_chars(v: str | None) -> str | None:
    """Strings that no database stores faithfully (NUL, lone surrogates) are refused."""
    if v is None:
        return v
    if "\x00" in v:
        raise ValueError("contains a NUL character")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in v):
        raise ValueError("contains a lone surrogate (invalid Unicode)")
    return v


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------- chat requests


class TextPart(_Strict):
    """A content part; only text is supported (image or audio parts are a 400)."""

    type: Literal["text"]
    text: str = Field(max_length=100_000)

    @field_validator("text")
    @classmethod
    def _text(cls, v: str) -> str:
        _no_bad_chars(v)
        return v


class ChatMessageIn(_Strict):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = Field(default=None, description="text, or text parts")
    name: str | None = Field(default=None, max_length=64)

    @field_validator("content")
    @classmethod
    def _content(cls, v: str | list[TextPart] | None) -> str | list[TextPart] | None:
        if isinstance(v, str):
            _no_bad_chars(v)
        return v

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(p.text for p in self.content)


class ChatOptions(_Strict):
    """affagent's request extension (OpenAI SDK: ``extra_body={"affagent": {...}}``)."""

    persona: str | None = Field(
        default=None,
        pattern=_NAME,
        description="persona of a NEW session (ignored for an existing one)",
    )
    dynamics: str | None = Field(
        default=None, max_length=64, description="dynamics of a NEW session"
    )
    locale: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$",
        description="locale for crisis resources (default: Accept-Language, the persona's, "
        "the server's)",
    )


class StreamOptions(_Strict):
    include_usage: bool = False


class ChatCompletionRequest(_Strict):
    """OpenAI's chat-completions request, the subset affagent honours.

    Only the LAST message is the new turn and it must have role ``user``; earlier messages
    are ignored because the session's stored history is the conversation (the agent's state
    depends on it). The session is chosen by the ``X-Session-Id`` header or ``user``; with
    neither, a new session is created and its id returned.
    """

    model: str | None = Field(default=None, max_length=200, description="ignored; reported back")
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=1000)
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(
        default=None,
        max_length=64,
        description="a session id of this tenant (alternative to header)",
    )
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1, le=4096)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=4096)
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    stop: str | list[str] | None = Field(default=None, description="up to 4 stop strings")
    n: int = Field(default=1, ge=1, le=1, description="only 1 is supported")
    presence_penalty: float | None = Field(
        default=None, ge=-2, le=2, description="accepted, ignored"
    )
    frequency_penalty: float | None = Field(
        default=None, ge=-2, le=2, description="accepted, ignored"
    )
    affagent: ChatOptions | None = None

    @field_validator("stop")
    @classmethod
    def _stop(cls, v: str | list[str] | None) -> str | list[str] | None:
        if isinstance(v, list) and (len(v) > 4 or any(len(s) > 100 for s in v)):
            raise ValueError("at most 4 stop strings of at most 100 characters")
        return v

    def stop_list(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)


# --------------------------------------------------------------------------- chat responses


class AffectInfo(BaseModel):
    """affagent's extra response field: what the turn did to the agent."""

    session_id: str
    turn: int
    state: dict[str, float] = Field(description="the agent's V, A, D after the turn")
    mood: str = Field(default="", description="the state in words")
    feeling: list[str] = Field(
        default_factory=list,
        description="the feeling words the prompt gave the model (within the persona's role)",
    )
    stimulus: dict[str, float] | None = Field(
        default=None, description="what the user's message meant to the persona (V, A, D)"
    )
    strategy: str | None = None
    user_estimate: dict[str, Any] = Field(default_factory=dict)
    safety: dict[str, Any] | None = Field(
        default=None,
        description="set when the safety layer replaced the reply (crisis or boundary)",
    )


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop", "length"] = "stop"
    logprobs: None = None


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


class ChatCompletionResponse(BaseModel):
    id: str = Field(default_factory=completion_id)
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[Choice]
    usage: Usage
    affagent: AffectInfo


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop", "length"] | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    """One SSE ``data:`` line of a streamed completion; the last chunk carries
    ``finish_reason`` and ``affagent``; ``data: [DONE]`` ends the stream."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
    affagent: AffectInfo | None = None


# --------------------------------------------------------------------------- sessions


class SessionCreate(_Strict):
    persona: str | None = Field(
        default=None, pattern=_NAME, description="a persona name (see /v1/personas)"
    )
    dynamics: str | None = Field(
        default=None,
        max_length=64,
        description="stateless | first:ALPHA | second:MU (default: persona's)",
    )


class StateOut(BaseModel):
    V: float
    A: float
    D: float
    velocity: dict[str, float]
    mood: str
    updated_at: float | None
    turns: int


class SessionOut(BaseModel):
    id: str
    object: Literal["session"] = "session"
    persona: str
    dynamics: str
    title: str
    turns: int
    version: int
    state: StateOut
    created_at: datetime
    updated_at: datetime


class SessionList(BaseModel):
    object: Literal["list"] = "list"
    data: list[SessionOut]
    total: int
    limit: int
    offset: int


class Deleted(BaseModel):
    id: str
    object: Literal["session"] = "session"
    deleted: bool = True


class TrajectoryPoint(BaseModel):
    """The agent's state after ``turn`` (0 = at creation) and what moved it."""

    turn: int
    V: float
    A: float
    D: float
    created_at: datetime
    user_estimate: dict[str, float] | None = None
    strategy: str | None = None
    safety: str | None = Field(default=None, description="crisis | boundary when the layer acted")
    user_text: str | None = None
    reply: str | None = None


class Trajectory(BaseModel):
    session_id: str
    persona: str
    dynamics: str
    points: list[TrajectoryPoint]


# --------------------------------------------------------------------------- service


class ErrorBody(BaseModel):
    message: str
    type: str
    code: str | None = None
    param: str | None = None


class ErrorResponse(BaseModel):
    """OpenAI-style error: ``{"error": {"message", "type", "code", "param"}}``."""

    error: ErrorBody


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    database: Literal["ok", "error"]
    backend: str
