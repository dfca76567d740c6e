"""The machinery behind ``sinch_helpers``: read that module first, this package only if curious.

``sinch_helpers.py`` is the short module the notebooks import, written in the tutorial's order.
Everything it needs that would get in a reader's way lives here, one module per job:

- ``api_facts``: the API's regions, limits and statuses that the helpers rely on.
- ``errors``: the exception family, and the hints that say what to fix.
- ``transport``: HTTP with retries, typed errors and the exactly-once send.
- ``api_objects``: JSON answers as dicts readable by attribute and shown as tables.
- ``settings``: ``.env`` and environment variables.
- ``credentials_form``: the ipywidgets form that never keeps the token.
- ``sandbox_controls``: starting the embedded sandbox and its sandbox-only controls.
- ``lazy``: pandas and numpy imported on first use.
- ``phone_numbers``: vectorised phone-number checks built on libphonenumber's metadata.
- ``recipients``: reading recipient files and marking duplicates.
- ``message_check``: the problems ``check_message`` looks for.
- ``parameters``: slicing ``parameters`` per batch.
- ``bulk``: the bulk-send journal.
- ``progress``: a progress bar that appears only for slow work.
- ``charts``: the delivery chart, as SVG or text.

Nothing here imports ``sinch_helpers``: dependencies run one way, from the notebooks through
``sinch_helpers`` to this package, and from here over HTTP to the sandbox or to Sinch.
"""
