"""Plumbing shared by both transports: settings, engine and sessions, the bus, the outbox, real-time emission,
presence, the availability cache, telemetry and metric definitions. `models/`'s top level holds the tables."""
