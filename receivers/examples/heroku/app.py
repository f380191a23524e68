"""A Flask app for Heroku that receives data-connector pushes.

Secret-less: the `DT_DISCOVERY_URL` config var names the sender's discovery document, and
every push's `DT-Asymmetric-Signature` is checked against its published keys. Or set
`DT_SIGNATURE_SECRET` to check the HS256 `X-Dt-Signature` instead. gunicorn serves `app`.
"""

from flask import Flask

from receivers import Deduplicator, Push
from receivers.adapters.flask import verified

app = Flask(__name__)


@app.post("/")
@verified(dedupe=Deduplicator())
def dataconnector_endpoint(push: Push) -> tuple[str, int]:
    """Answer 200 `OK` to a verified push; the decorator answers 400 to anything else."""
    event = push.event
    print(f"received {event.event_type} event {event.event_id}", flush=True)
    return "OK", 200
