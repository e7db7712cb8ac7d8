"""Code that runs inside emulated guests and on devices (stdlib + numpy only)."""
