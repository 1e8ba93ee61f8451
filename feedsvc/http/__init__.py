"""Documents to HTTP: the Flask app that answers from the current snapshot, its metrics
and the request log. It never parses, scans or renders content.
"""
