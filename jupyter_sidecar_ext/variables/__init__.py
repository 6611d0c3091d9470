"""The variables service: a snapshot per kernel, taken over the control channel, never by
running code in the user's shell."""
