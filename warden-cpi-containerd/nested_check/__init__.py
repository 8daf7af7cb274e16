"""nested-check, the in-image diagnostic tool of warden-cpi-containerd: one module per check,
the command line in cli (the entry script /usr/local/bin/nested-check runs cli.main)."""
