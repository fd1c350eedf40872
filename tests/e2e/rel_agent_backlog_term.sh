#!/usr/bin/env bash
# e2e T7 (tests/RELIABILITY.md): agent restart with a backlog, stopped with
# SIGTERM: see rel_agent_backlog.bash.
SIGNAL=TERM
source "$(dirname "$0")/rel_agent_backlog.bash"
