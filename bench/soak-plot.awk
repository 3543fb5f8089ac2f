# bench/soak-plot.awk: the SVG of a soak (bench/soak), drawn from its data
# file, so that no plotting tool is a dependency (bench/compare's plots use
# gnuplot, the field's usual tool; a soak must run wherever make test
# does).  Three panels over the run's time: p99 latency of each load per
# interval (log scale), nlb's resident memory, nlb's open descriptors; the
# warm-up is shaded and the memory panel has the 5% band the soak checks.
#
# Input: the data file (tab-separated, a header line naming the columns:
# t_s, rss_kib, fds, other_fds (optional), then one *_p99_us column per
# load, plotted, and any others, not; "-" where a value is missing).  Variables: title (a line under the plot), warm_s (end of
# the warm-up), base_kib (the memory baseline the 5% is measured from).
#   awk -F'\t' -v title=... -v warm_s=... -v base_kib=... -f soak-plot.awk data.tsv

function fmt_t(s) { return s >= 120 ? sprintf("%d min", s / 60) : sprintf("%d s", s) }
function x_of(t) { return L + (t - tmin) / (tmax > tmin ? tmax - tmin : 1) * PW }
function esc(s) { gsub(/&/, "\\&amp;", s); gsub(/</, "\\&lt;", s); return s }

NR == 1 {
	for (i = 1; i <= NF; i++) {
		col[$i] = i
		name[i] = $i
	}
	ncol = NF
	next
}
{
	n++
	for (i = 1; i <= ncol; i++)
		v[n, i] = $i
}
END {
	W = 900; L = 70; R = 150; PW = W - L - R; PH = 150; GAP = 45; TOP = 40
	H = TOP + 3 * (PH + GAP) + 30
	tmin = v[1, col["t_s"]]; tmax = v[n, col["t_s"]]
	split("#1f77b4 #d62728 #2ca02c #9467bd #ff7f0e #8c564b #e377c2 #17becf", colors, " ")
	printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" " \
		"font-family=\"sans-serif\" font-size=\"11\">\n", W, H
	printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
	printf "<text x=\"%d\" y=\"18\" font-size=\"14\">nlb soak: p99 latency, memory and " \
		"descriptors over time</text>\n", L
	printf "<text x=\"%d\" y=\"32\" fill=\"#555\">%s</text>\n", L, esc(title)

	# ---- panel 1: p99 per load, log scale ----------------------------
	top = TOP + 10
	lo = 1e18; hi = 0
	for (i = 1; i <= ncol; i++) {
		if (name[i] !~ /_p99_us$/)
			continue
		for (r = 1; r <= n; r++)
			if (v[r, i] != "-" && v[r, i] + 0 > 0) {
				if (v[r, i] + 0 < lo) lo = v[r, i] + 0
				if (v[r, i] + 0 > hi) hi = v[r, i] + 0
			}
	}
	if (hi == 0) { lo = 10; hi = 1000 }
	dlo = int(log(lo) / log(10)); if (10 ^ dlo > lo) dlo--
	dhi = int(log(hi) / log(10)); if (10 ^ dhi < hi) dhi++
	if (dhi <= dlo) dhi = dlo + 1
	panel(top, "p99 latency per interval, from each request's send (log)")
	for (d = dlo; d <= dhi; d++) {
		y = top + PH - (d - dlo) / (dhi - dlo) * PH
		label = d >= 6 ? sprintf("%g s", 10 ^ (d - 6)) : d >= 3 ? sprintf("%g ms", 10 ^ (d - 3)) : sprintf("%g us", 10 ^ d)
		printf "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L, L + PW, y, y
		printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", L - 4, y + 4, label
	}
	k = 0
	for (i = 1; i <= ncol; i++) {
		if (name[i] !~ /_p99_us$/)
			continue
		k++
		pts = ""
		for (r = 1; r <= n; r++) {
			if (v[r, i] == "-" || v[r, i] + 0 <= 0) {
				if (pts != "") line(pts, colors[k]); pts = ""
				continue
			}
			y = top + PH - (log(v[r, i]) / log(10) - dlo) / (dhi - dlo) * PH
			pts = pts sprintf("%.1f,%.1f ", x_of(v[r, col["t_s"]]), y)
		}
		if (pts != "") line(pts, colors[k])
		lab = name[i]; sub(/_p99_us$/, "", lab)
		ly = top + 10 + (k - 1) * 14
		printf "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"/>\n", \
			L + PW + 10, L + PW + 28, ly - 4, ly - 4, colors[k]
		printf "<text x=\"%d\" y=\"%d\">%s</text>\n", L + PW + 32, ly, lab
	}

	# ---- panel 2: RSS ------------------------------------------------
	top += PH + GAP
	series(top, col["rss_kib"], 1024, "MiB", "nlb resident memory (MiB)", base_kib)
	# ---- panel 3: descriptors ---------------------------------------
	top += PH + GAP
	series(top, col["fds"], 1, "", "nlb open descriptors: all, and those no connection or flow holds", 0,
	       col["other_fds"])
	printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">time since the soak's load began</text>\n", \
		L + PW / 2, top + PH + 28
	printf "</svg>\n"
}

# A panel's frame, its warm-up shading and time axis.
function panel(top, label,    t, x, step) {
	printf "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">%s</text>\n", L, top - 6, label
	if (warm_s > tmin)
		printf "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"#f2f2f2\"/>" \
			"<text x=\"%d\" y=\"%d\" fill=\"#999\">warm-up</text>\n", \
			L, top, x_of(warm_s) - L, PH, L + 3, top + PH - 4
	printf "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#888\"/>\n", \
		L, top, PW, PH
	step = tmax - tmin > 1200 ? 300 : tmax - tmin > 300 ? 60 : tmax - tmin > 60 ? 20 : 10
	for (t = 0; t <= tmax; t += step) {
		if (t < tmin) continue
		x = x_of(t)
		printf "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#888\"/>" \
			"<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", \
			x, x, top + PH, top + PH + 4, x, top + PH + 15, fmt_t(t)
	}
}

function line(pts, color) {
	printf "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.3\" points=\"%s\"/>\n", color, pts
}

# A linear panel of column c divided by div; band: a baseline (in the
# column's units) whose +5% is drawn; c2: a second column drawn beside
# (0: none).
function series(top, c, div, unit, label, band, c2,    r, lo, hi, y, pts, g, val, span) {
	lo = 1e18; hi = 0
	for (r = 1; r <= n; r++) {
		if (v[r, c] != "-") {
			val = v[r, c] / div
			if (val < lo) lo = val
			if (val > hi) hi = val
		}
		if (c2 > 0 && v[r, c2] != "-" && v[r, c2] != "") {
			val = v[r, c2] / div
			if (val < lo) lo = val
			if (val > hi) hi = val
		}
	}
	if (band > 0 && band * 1.05 / div > hi) hi = band * 1.05 / div
	if (band > 0 && band / div < lo) lo = band / div
	span = hi - lo; if (span <= 0) span = hi > 0 ? hi * 0.1 : 1
	lo -= span * 0.15; hi += span * 0.15; if (lo < 0) lo = 0
	panel(top, label)
	for (g = 0; g <= 4; g++) {
		val = lo + (hi - lo) * g / 4
		y = top + PH - g / 4 * PH
		printf "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>" \
			"<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", \
			L, L + PW, y, y, L - 4, y + 4, sprintf(hi - lo < 10 ? "%.1f" : "%.0f", val)
	}
	if (band > 0) {
		y = top + PH - (band * 1.05 / div - lo) / (hi - lo) * PH
		printf "<line x1=\"%.1f\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#d62728\" " \
			"stroke-dasharray=\"4 3\"/><text x=\"%d\" y=\"%.1f\" fill=\"#d62728\">" \
			"baseline +5%%</text>\n", x_of(warm_s), L + PW, y, y, L + PW + 4, y + 4
		y = top + PH - (band / div - lo) / (hi - lo) * PH
		printf "<line x1=\"%.1f\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#999\" " \
			"stroke-dasharray=\"2 3\"/><text x=\"%d\" y=\"%.1f\" fill=\"#999\">" \
			"baseline</text>\n", x_of(warm_s), L + PW, y, y, L + PW + 4, y + 4
	}
	pts = ""
	for (r = 1; r <= n; r++)
		if (v[r, c] != "-")
			pts = pts sprintf("%.1f,%.1f ", x_of(v[r, col["t_s"]]),
				top + PH - (v[r, c] / div - lo) / (hi - lo) * PH)
	line(pts, "#1f77b4")
	if (c2 > 0) {
		pts = ""
		for (r = 1; r <= n; r++)
			if (v[r, c2] != "-" && v[r, c2] != "")
				pts = pts sprintf("%.1f,%.1f ", x_of(v[r, col["t_s"]]),
					top + PH - (v[r, c2] / div - lo) / (hi - lo) * PH)
		line(pts, "#ff7f0e")
		printf "<text x=\"%d\" y=\"%d\" fill=\"#1f77b4\">all</text>" \
			"<text x=\"%d\" y=\"%d\" fill=\"#ff7f0e\">no connection's</text>\n", \
			L + PW + 4, top + 12, L + PW + 4, top + 26
	}
}
