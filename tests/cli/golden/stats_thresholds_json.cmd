# The same figures as stats_thresholds (worked out there), as printed by
# --json: quantiles unrounded (0.0234375, 0.15625), the three threshold
# counts per layer (2, 3, 6 and 2, 2, 3) and never_active (1 and 2).
$NNPRUNE stats --json -o s.json data/cli_thr.json data/cli_thr.csv && test -s s.json
