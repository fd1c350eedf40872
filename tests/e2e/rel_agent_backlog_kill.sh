#!/usr/bin/env bash
# e2e T6 (tests/RELIABILITY.md): agent restart with a backlog, stopped with
# SIGKILL: see rel_agent_backlog.bash.
SIGNAL=KILL
source "$(dirname "$0")/rel_agent_backlog.bash"
