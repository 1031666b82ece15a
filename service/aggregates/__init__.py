"""The domain: aggregates and their rules. Imports only eventsourcing.domain, dateutil and the standard library."""
