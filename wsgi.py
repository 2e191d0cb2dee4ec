"""`app = create_app()` for gunicorn and `flask --app wsgi …`. Served by gunicorn, search
and routing get ready on a background thread as the process starts (hotline.warmup);
a `flask` command (a migration, an import) does not start it."""

import os

from hotline import create_app, warmup

app = create_app()
if not os.environ.get("FLASK_RUN_FROM_CLI"):
    warmup.start(app)
