"""``python -m sample_app``: serve the sample app on 0.0.0.0:$PORT (the container's CMD)."""

from sample_app.app import main

raise SystemExit(main())
