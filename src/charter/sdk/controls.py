"""SDK part of controls: the library, enablements, findings and evaluation."""

from __future__ import annotations

from charter.controls.schemas import ControlRead, EnablementRead, EvaluationReport, FindingRead
from charter.sdk._part import Pager, Part, q


class Controls(Part):
    """Preventive, proactive and detective controls and their findings
    (`client.controls`)."""

    def list(self, *, limit: int = 100, offset: int = 0) -> Pager[ControlRead]:
        """The control library and where each control is enabled."""
        return self._pages(ControlRead, "/v1/controls", {"limit": limit, "offset": offset})

    def enable(self, control_id: str, *, ou: str | None = None,
               account: str | None = None) -> EnablementRead:
        """Enable a control on an OU (and everything under it) or on one account."""
        return self._typed(EnablementRead, "POST", f"/v1/controls/{q(control_id)}/enablements",
                           json={"ou": ou, "account": account})

    def disable(self, control_id: str, *, ou: str | None = None,
                account: str | None = None) -> EnablementRead:
        """Disable a control where it was enabled; mandatory controls cannot be."""
        return self._typed(EnablementRead, "POST", f"/v1/controls/{q(control_id)}/disable",
                           json={"ou": ou, "account": account})

    def findings(self, *, account: str | None = None, status: str = "open",
                 control: str | None = None, limit: int = 100, offset: int = 0,
                 cursor: str | None = None) -> Pager[FindingRead]:
        """Findings of detective controls (`status`: open, resolved or all)."""
        return self._pages(FindingRead, "/v1/controls/findings", {
            "account": account, "status": status, "control": control, "limit": limit,
            "offset": offset, "cursor": cursor})

    def evaluate(self) -> EvaluationReport:
        """Run every detective control now and update the findings."""
        return self._typed(EvaluationReport, "POST", "/v1/controls/evaluate")


PARTS: dict[str, type[Part]] = {"controls": Controls}
