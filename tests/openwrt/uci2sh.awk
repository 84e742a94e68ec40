# uci2sh.awk — a test stand-in for OpenWrt's config_load: turns a UCI file into shell
# assignments CONFIG_SECTIONS, CONFIG_<sec>_TYPE, CONFIG_<sec>_<option> (lists joined by
# spaces). Handles the subset our fixtures use: config/option/list, '…' "…" or bare values.
function unquote(s) {
	if (s ~ /^'.*'$/ || s ~ /^".*"$/) s = substr(s, 2, length(s) - 2)
	return s
}
function shq(s) { gsub(/'/, "'\\''", s); return "'" s "'" }
/^[ \t]*(#|$)/ { next }
{
	sub(/^[ \t]+/, "")
	kw = $1
	rest = $0; sub(/^[^ \t]+[ \t]*/, "", rest)
	if (kw == "config") {
		type = $2
		name = $3 == "" ? sprintf("cfg%02d", ++anon) : unquote($3)
		sections = sections (sections == "" ? "" : " ") name
		print "CONFIG_" name "_TYPE=" shq(type)
		next
	}
	opt = $2
	val = rest; sub(/^[^ \t]+[ \t]*/, "", val); val = unquote(val)
	key = "CONFIG_" name "_" opt
	if (kw == "list" && (key in seen)) vals[key] = vals[key] " " val
	else vals[key] = val
	seen[key] = 1
}
END {
	for (k in vals) print k "=" shq(vals[k])
	print "CONFIG_SECTIONS=" shq(sections)
}
