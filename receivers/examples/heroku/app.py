"""A Flask app for Heroku that receives data-connector pushes.

The signature secret comes from the `DT_SIGNATURE_SECRET` config var; gunicorn serves `app`.
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
