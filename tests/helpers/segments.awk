#!/usr/bin/awk -f
# readelf -W -l output in; says whether .rodata lies in an executable
# segment. Program headers are numbered in order; LOAD flags are the
# second-to-last field ("R E" splits in two).
/^  [A-Z_]+ +0x/ { flags[n++] = ($0 ~ / R?W?E +0x[0-9a-f]+$/) ? "E" : "" }
/^   [0-9]+ / && / \.rodata( |$)/ { segment = $1 + 0; found = 1 }
END { if (!found) print "no rodata"; else print (flags[segment] == "E" ? "rodata executable" : "rodata not executable") }
