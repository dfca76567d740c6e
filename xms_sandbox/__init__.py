"""An offline stand-in for the Sinch SMS REST API ("XMS"), for learning and testing.

Embedded::

    import xms_sandbox
    with xms_sandbox.start(plans={"my-plan": "my-token"}) as sandbox:
        ...  # talk to f"{sandbox.url}/xms/v1/my-plan/batches"

Standalone: ``python -m xms_sandbox --help``.
"""

from .lifecycle import OUTCOMES, Timing
from .server import Sandbox, build, start

__all__ = ["OUTCOMES", "Sandbox", "Timing", "build", "start"]
