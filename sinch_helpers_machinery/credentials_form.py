"""An ipywidgets form for the service plan ID, API token and region.

After **Connect** the token is read and the password box is emptied at once, so neither the
notebook file nor saved widget state can hold it.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

from .api_facts import REGIONS
from .errors import SmsApiError
from .settings import Secret

NO_WIDGETS_TEXT = (
    "Credentials form (needs a Jupyter front end with widgets). Without one, set the "
    "environment variables SINCH_SERVICE_PLAN_ID, SINCH_API_TOKEN and SINCH_REGION, and for "
    "sending SINCH_TEST_NUMBERS and SINCH_FROM (or put them in a .env file, see .env.example), "
    "then restart the kernel. With nothing set, the notebooks use the offline sandbox."
)

#: Builds credentials from plan ID, token and region and proves them against the API, raising
#: SmsApiError (CredentialsError included) when they do not work.
Checker = Callable[[str, str, str], Any]


class CredentialsForm:
    """The form itself; ``credentials`` holds the checked credentials, or None.

    Nothing waits for the form: if it is never filled in, ``credentials`` stays ``None`` and
    ``connect`` falls back to the environment, then to the sandbox.

    >>> form = CredentialsForm(check)  # doctest: +SKIP
    >>> form  # draws the form in a notebook  # doctest: +SKIP
    """

    def __init__(self, check: Checker) -> None:
        import ipywidgets as widgets

        self.credentials: Any = None
        self._check = check
        style = {"description_width": "140px"}
        layout = widgets.Layout(width="460px")
        self.plan = widgets.Text(description="Service plan ID", style=style, layout=layout)
        self.token = widgets.Password(description="API token", style=style, layout=layout)
        self.region = widgets.Dropdown(
            options=list(REGIONS), value="us", description="Region", style=style
        )
        self.button = widgets.Button(description="Connect", button_style="primary", icon="plug")
        self.status = widgets.HTML(value="")
        self.button.on_click(lambda _: self.submit())
        self.box = widgets.VBox([self.plan, self.token, self.region, self.button, self.status])

    def submit(self) -> Any:
        """Read the fields, forget the token in the widget, and check the credentials.

        Whatever the check shows is escaped: the API's text is not HTML to run."""
        # A Secret from here on: should the check fail, the traceback shows the token masked.
        token, self.token.value = Secret(self.token.value), ""
        try:
            candidate = self._check(self.plan.value, token, self.region.value)
        except SmsApiError as error:
            self._show(False, f"{escape(error.args[0])}<br>{escape(error.hint or '')}")
            return None
        self.credentials = candidate
        self._show(
            True,
            f"Connected to service plan {escape(candidate.service_plan_id)} in region "
            f"'{escape(candidate.region)}'. Now run <code>connect(form.credentials)</code>.",
        )
        return candidate

    def _show(self, ok: bool, message: str) -> None:
        colour = "#1a7f37" if ok else "#b42318"
        self.status.value = f"<span style='color:{colour}'>{message}</span>"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = self.box._repr_mimebundle_(**kwargs)
        if isinstance(bundle, tuple):
            bundle = bundle[0]
        return {**bundle, "text/plain": NO_WIDGETS_TEXT}
