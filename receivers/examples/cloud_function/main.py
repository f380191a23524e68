"""A Google Cloud Function that receives data-connector pushes.

Entry point `dataconnector_endpoint`. Secret-less: set `DT_DISCOVERY_URL` to the sender's
discovery document and every push's `DT-Asymmetric-Signature` is checked against its published
keys. Or set `DT_SIGNATURE_SECRET` to check the HS256 `X-Dt-Signature` with a shared secret.
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
