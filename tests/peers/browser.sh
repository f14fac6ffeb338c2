#!/bin/sh
# The BROWSER seam as one executable path: runs browser.js (see there) with the URL.
exec node "$(dirname "$0")/browser.js" "$@"
