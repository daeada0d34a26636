"""Where sobot's pages are: an order's page on the dashboard, and the same page as a deep link into the Teams tab.

A link names the order by its reference and nothing else, so a link that is forwarded, logged or kept in a
browser's history says nothing about the child.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote, urlencode

# The manifest's personal tab that shows the dashboard (appPackage/manifest.json, staticTabs).
TAB_ENTITY = "sobot-caseload"
TEAMS = "https://teams.microsoft.com/l/entity/"
# The subEntityId of a deep link that opens My calendar in the tab (an order's is its reference).
CALENDAR_PAGE = "calendar"


@dataclass(frozen=True)
class Links:
    """`dashboard` is the dashboard's public address, ending in "/"; `teams_app_id` the Teams app's id (the
    manifest's "id"), when there is a Teams app to open the tab of."""

    dashboard: str
    teams_app_id: str | None = None

    def order(self, reference: str) -> str:
        """The order's page, for a browser."""
        return f"{self.dashboard}orders/{quote(reference, safe='')}"

    def caseload(self) -> str:
        return f"{self.dashboard}caseload"

    def in_teams(self, reference: str) -> str:
        """The order's page as Teams opens it: a deep link into the personal tab, whose page reads the reference
        from the context's subEntityId (TeamsJS: page.subPageId); without a Teams app, the page itself."""
        if not self.teams_app_id:
            return self.order(reference)
        query = urlencode({"webUrl": self.order(reference), "label": reference,
                           "context": json.dumps({"subEntityId": reference}, separators=(",", ":"))},
                          quote_via=quote)  # fmt: skip
        return f"{TEAMS}{quote(self.teams_app_id, safe='')}/{TAB_ENTITY}?{query}"

    def caseload_in_teams(self) -> str:
        """The tab itself (its caseload), or the caseload's page without a Teams app."""
        return self._in_the_tab(self.caseload(), "Orders")

    def calendar(self) -> str:
        """The "My calendar" page, where a person makes or renews their calendar feed's link."""
        return f"{self.dashboard}calendar"

    def calendar_in_teams(self) -> str:
        """My calendar in the tab: its subEntityId "calendar" tells the tab's page to open it (teams-signin.js)."""
        return self._in_the_tab(self.calendar(), "My calendar", CALENDAR_PAGE)

    def _in_the_tab(self, page: str, label: str, sub_entity: str | None = None) -> str:
        if not self.teams_app_id:
            return page
        fields = {"webUrl": page, "label": label}
        if sub_entity is not None:
            fields["context"] = json.dumps({"subEntityId": sub_entity}, separators=(",", ":"))
        query = urlencode(fields, quote_via=quote)
        return f"{TEAMS}{quote(self.teams_app_id, safe='')}/{TAB_ENTITY}?{query}"
