"""Jobs: the request object, the queue, the event log and the history store."""
