"""Framework adapters: each answers 400 `Could not verify request.` when verification fails."""

REJECTION_TEXT = "Could not verify request."
REJECTION_STATUS = 400
