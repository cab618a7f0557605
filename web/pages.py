"""Page helpers shared by the pages (links, dashboard, portal): never cached, never framed."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import Request
from fastapi.responses import HTMLResponse

from core.tokens import read_link
from models.links import LinkClaims, LinkProblem, LinkRole
from web.security import protect_page
from web.services import app_services

# a problem's HTTP status, heading, explanation and advice
ProblemTexts = dict[LinkProblem, tuple[int, str, str, str]]


def page(
    request: Request, template: str, context: dict[str, object], *, status_code: int = 200
) -> HTMLResponse:
    response = app_services(request).templates.TemplateResponse(
        request, template, context, status_code=status_code
    )
    return protect_page(response)


def problem_page(request: Request, texts: ProblemTexts, problem: LinkProblem) -> HTMLResponse:
    """The plain page for a link that does not work, in the wording of the page it was for."""
    status_code, heading, explanation, advice = texts[problem]
    return page(
        request,
        "problem.html",
        {"heading": heading, "explanation": explanation, "advice": advice, "tone": "bad"},
        status_code=status_code,
    )


def notice(
    request: Request, heading: str, explanation: str, *, status_code: int = 200, advice: str = ""
) -> HTMLResponse:
    """A page for a genuine link that cannot be acted on now (already done, closed, starting...)."""
    return page(
        request,
        "problem.html",
        {"heading": heading, "explanation": explanation, "advice": advice, "tone": "warn"},
        status_code=status_code,
    )


def link_claims(request: Request, token: str, role: LinkRole) -> LinkClaims | LinkProblem:
    """What the emailed link ``token`` grants, for a page of ``role`` links; or why it does not work."""
    secret = app_services(request).settings.link_secret.get_secret_value()
    return read_link(secret, token, expected_role=role, now=datetime.now(UTC))


def busy(request: Request, service: str) -> HTMLResponse:
    """503 for a workflow that is busy or unreachable: nothing was recorded, try again shortly."""
    response = notice(
        request,
        "Please try again",
        f"The {service} service is busy or unreachable, and nothing was recorded. Try again in a moment.",
        status_code=503,
    )
    response.headers["Retry-After"] = "30"
    return response
