"""A Google Cloud Function that receives data-connector pushes.

Entry point `dataconnector_endpoint`; the signature secret comes from `DT_SIGNATURE_SECRET`.
"""

import functions_framework
from flask import Request

from receivers import Push
from receivers.adapters.flask import verified


@functions_framework.http
@verified
def dataconnector_endpoint(push: Push, request: Request) -> tuple[str, int]:
    """Answer 200 `OK` to a verified push; the decorator answers 400 to anything else."""
    event = push.event
    print(
        f"received {event.event_type} event {event.event_id} from {event.target_name}", flush=True
    )
    return "OK", 200
