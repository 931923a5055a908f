"""A workflow that renders a push inside the Temporal sandbox (tests/test_content_copy.py).

Its own small module, imported without ``imports_passed_through``: the sandbox imports it anew, and with it
coaching.content, which reads the copy files from inside the sandbox.
"""

from __future__ import annotations

from temporalio import workflow

import coaching.content
from coaching.content import render
from coaching.models import NotificationType

BRIEF_FACTS = {"session_focus": "Tempo Ruck", "weekday": "Tuesday", "start_time": "07:30", "planned_week": "3"}
NOTIFICATION_ID = "p1:evening_brief:s1:2026-03-10"


@workflow.defn(sandboxed=True)
class RenderInTheSandbox:
    @workflow.run
    async def run(self, tone: str) -> list[str]:
        """The brief's title, body and template key, and the id of the copy the sandbox's coaching.content holds."""
        content = render(NotificationType.EVENING_BRIEF, tone, BRIEF_FACTS, notification_id=NOTIFICATION_ID)
        return [content.title, content.body, content.template_key, str(id(coaching.content.COPY))]
