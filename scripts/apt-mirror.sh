#!/bin/sh
# apt-mirror.sh: print the Debian mirror this machine's apt uses for SUITE (default bookworm),
# so scripts that debootstrap a root name no mirror of their own.
#
# Usage: scripts/apt-mirror.sh [SUITE]    (exit 1, nothing printed, if no source serves it)
# Reads /etc/apt/sources.list{,.d} in either format: one-line "deb [OPTIONS] URI SUITE
# COMPONENT..." or deb822 paragraphs (Types/URIs/Suites/Enabled). The first match wins.
set -eu
suite=${1:-bookworm}
mirror=$({
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		sed -e 's/#.*//' -e 's/\[[^]]*\]//' |
		awk -v s="$suite" '$1 == "deb" && $3 == s { print $2 }'
	cat /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v '^#' |
		awk -v s="$suite" 'BEGIN { RS = ""; FS = "\n" }
		{
			types = uris = suites = ""; enabled = "yes"
			for (i = 1; i <= NF; i++) {
				n = index($i, ":"); k = tolower(substr($i, 1, n - 1)); v = substr($i, n + 1)
				if (k == "types") types = " " v " "
				else if (k == "uris") uris = v
				else if (k == "suites") suites = " " v " "
				else if (k == "enabled") enabled = v
			}
			gsub(/[ \t]+/, " ", types); gsub(/[ \t]+/, " ", suites)
			if (enabled ~ /no/ || types !~ / deb / || suites !~ " " s " ") next
			n = split(uris, u, " "); if (n > 0) print u[1]
		}'
} | head -n 1)
[ -n "$mirror" ] || exit 1
echo "$mirror"
