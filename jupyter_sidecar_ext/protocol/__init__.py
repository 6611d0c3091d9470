"""The Jupyter messaging protocol as the sidecar reads it: lazily decoded messages, websocket
frames checked before they are trusted, message numbers. Imports nothing else of ours."""
