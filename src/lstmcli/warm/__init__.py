"""Warm starts: a per-user server that has imported TensorFlow once and forks one child per command.

`protocol` holds what both sides agree on (the private socket directory, the
framed messages with file descriptors, and the fingerprint that says whether a
server may run a client's command); `client` is what the `lstmcli` entry point
runs when `LSTMCLI_SERVER` is `auto` or `on` (standard library only, so the
entry point stays light); `server` is the listening loop; `child` turns a fork
of the server into the process a cold `lstmcli` would have been.
Nothing here imports Typer or rich: the command line hands the server the
function a child runs (`lstmcli.cli.serving`).
"""
