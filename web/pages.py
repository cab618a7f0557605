"""Page helpers shared by the pages (links, dashboard, portal): never cached, never framed."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from models.links import LinkProblem
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
