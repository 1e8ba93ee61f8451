"""Running the stages together: one refresh, the schedule and filesystem events that
trigger it, `serve` and `build`, the HTTP server process and its workers, logging,
WebSub notifications.
"""
