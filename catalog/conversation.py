"""The conversation on a tool request: IT's questions, the requester's answers, comments.

A question from IT puts the request in ``needs_info`` (it now waits for the requester);
the answer puts it back to ``submitted`` (it waits for IT again). Each turn is kept as a
message the other side sees, recorded in the history and announced.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from catalog.errors import Conflict, Invalid
from catalog.events import CatalogEvent, announce
from catalog.models import MessageKind, RequestMessage, RequestStatus, ToolRequest
from catalog.requests import (
    move_to,
    record_request_change,
    request_state,
    requester_address,
    require_open,
)
from gateway.identity.actors import Actor

MAX_MESSAGE = 5000


def add_message(actor: Actor, request: ToolRequest, kind: MessageKind, body: str) -> RequestMessage:
    """Appends a turn to the conversation; the text is required and bounded."""
    text = (body or "").strip() if isinstance(body, str) else ""
    if not text:
        raise Invalid("the message is empty", [{"pointer": "/body", "message": "is required"}])
    if len(text) > MAX_MESSAGE:
        raise Invalid(
            "the message is too long",
            [{"pointer": "/body", "message": f"must be at most {MAX_MESSAGE} characters"}],
        )
    message = RequestMessage(kind=kind, author_label=actor.label, body=text)
    request.messages.append(message)
    return message


def ask(session: Session, actor: Actor, source: str, request: ToolRequest, question: str) -> None:
    """IT needs more information before deciding."""
    actor.require("reviews:write")
    require_open(request)
    add_message(actor, request, MessageKind.QUESTION, question)
    before = request_state(request)
    move_to(request, RequestStatus.NEEDS_INFO)
    record_request_change(session, actor, source, request, "question_asked", before)
    announce(
        session,
        CatalogEvent(
            "question_asked",
            f"IT asked a question about the request for {request.vendor_name}",
            ("tool_request", str(request.id)),
            recipients=requester_address(request),
        ),
    )


def answer(session: Session, actor: Actor, source: str, request: ToolRequest, text: str) -> None:
    """The requester's side answers IT's question; the request waits for IT again."""
    actor.require("requests:write")
    if request.status != RequestStatus.NEEDS_INFO:
        raise Conflict("IT has no open question on this request; add a comment instead")
    add_message(actor, request, MessageKind.ANSWER, text)
    before = request_state(request)
    move_to(request, RequestStatus.SUBMITTED)
    record_request_change(session, actor, source, request, "question_answered", before)
    announce(
        session,
        CatalogEvent(
            "question_answered",
            f"{actor.label} answered IT's question about {request.vendor_name}",
            ("tool_request", str(request.id)),
        ),
    )


def comment(session: Session, actor: Actor, source: str, request: ToolRequest, text: str) -> None:
    """A remark by either side that changes nothing in the request's state."""
    if not (actor.may("requests:write") or actor.may("reviews:write")):
        actor.require("requests:write")
    require_open(request)
    add_message(actor, request, MessageKind.COMMENT, text)


def post_message(
    session: Session, actor: Actor, source: str, request: ToolRequest, kind: str, body: str
) -> None:
    """One entry point for the API and the portal: the message's kind picks the action."""
    actions = {"question": ask, "answer": answer, "comment": comment}
    if kind not in actions:
        raise Invalid(
            "unknown kind of message",
            [{"pointer": "/kind", "message": "must be one of question, answer, comment"}],
        )
    actions[kind](session, actor, source, request, body)
