"""How the extension tunes the server around kernels: activity tracking from the sidecar's
subscription, ipykernel's launch (iopub send queue), memory given back after bursts."""
