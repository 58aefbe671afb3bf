# Quantiles of |mean| {1, 4}: 1, 1.75, 2.5, 3.25, 4; of std {1, sqrt 5}
# likewise by linear interpolation. Nothing is under the reference thresholds.
$NNPRUNE stats --json -o s.json data/cli_id.json data/cli_id.csv && test -s s.json
