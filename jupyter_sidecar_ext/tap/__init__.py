"""Clients' kernel websockets, tapped: the server's connection classes (local and gateway), telling
the sidecar about every execute_request and reply without delaying kernel->client traffic."""
