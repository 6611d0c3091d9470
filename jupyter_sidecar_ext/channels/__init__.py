"""How a sidecar talks to its kernel: iopub, shell and control, over local ZMQ sockets (zmq/)
or a gateway kernel's websocket (gateway/)."""
