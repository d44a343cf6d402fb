#!/bin/bash
# SPDX-License-Identifier: MIT
# test-kill.sh, test-brake-reload.sh, test-security.sh and test-crash-brakes.sh one after another in one boot
# (test-basics.sh runs them: memwarden installed once; between two scripts memwardend stopped, the policies
# removed, its runtime state emptied). test-crash-brakes.sh last: it is the one that adds a drop-in to
# memwardend.service (removed at its end).
exec bash "$(dirname "$0")/test-basics.sh" kill brake-reload security crash-brakes
