# Summarises `make fuzz` logs (build/fuzz/NAME.log, libFuzzer's output):
# a row per target of its executions, their rate, libFuzzer's final
# coverage (cov: edges, ft: features), its corpus, and when the coverage
# last grew, as the execution it came at and the share of the run before
# it (a run whose edges stopped growing early has covered what its
# mutations reach).  Usage: awk -f bench/fuzz-report.awk build/fuzz/*.log
function flush() {
	if (name == "")
		return
	pct = runs ? 100 * last_new / runs : 0
	printf "| %s | %s | %.2f M | %s | %s / %s | %s | #%s (%.0f%%) |\n", name, secs, runs / 1e6,
	       rate, cov, ft, corp, last_new, pct
}
BEGIN {
	print "| target | seconds | executions | per s | cov / ft | corpus | coverage last grew at |"
	print "|---|---|---|---|---|---|---|"
}
FNR == 1 {
	flush()
	name = FILENAME
	sub(/.*\//, "", name)
	sub(/\.log$/, "", name)
	cov = ft = corp = rate = secs = "?"
	runs = last_new = 0
	max_cov = -1
}
/^#[0-9]+\t/ {
	n = substr($1, 2) + 0
	for (i = 2; i < NF; i++) {
		if ($i == "cov:") {
			c = $(i + 1) + 0
			if (c > max_cov) {
				max_cov = c
				last_new = n
			}
			cov = $(i + 1)
		} else if ($i == "ft:") {
			ft = $(i + 1)
		} else if ($i == "corp:") {
			corp = $(i + 1)
			sub(/\/.*/, "", corp)
		}
	}
}
/^Done [0-9]+ runs in [0-9]+ second/ {
	runs = $2 + 0
	secs = $5
}
/^stat::average_exec_per_sec:/ {
	rate = $2
}
# a run that ended on a finding has no "Done" line
/^stat::number_of_executed_units:/ && runs == 0 {
	runs = $2 + 0
}
END {
	flush()
}
