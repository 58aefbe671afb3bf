# Every figure of the summary, worked out by hand on data/cli_thr.json with
# data/cli_thr.csv: rows (x1, x2) = (1,1), (-1,1), (1,-1), (-1,-1), so x1 and
# x2 each have mean 0 and population std 1 and are uncorrelated; a linear
# neuron a*x1 + c*x2 + b then has mean b and std sqrt(a^2 + c^2).
# Layer 0 (linear), (|mean|, std) of its 8 neurons:
#   (0,0) zero on every row; (0.5,0); (0.25,1); (0.5,1); (0,0.25);
#   (0.03125,0.03125) zero on half the rows; (3,0.5); (1,1.25).
#   Sorted |mean| 0,0,0.03125,0.25,0.5,0.5,1,3: quantiles at positions 0,
#   1.75, 3.5, 5.25, 7 give 0, 0.0234375, 0.375, 0.625, 3. Sorted std
#   0,0,0.03125,0.25,0.5,1,1,1.25 give 0, 0.0234375, 0.375, 1, 1.25.
#   Under (0.05, 0.1): 2; (0.1, 0.4): 3; (0.5, 1): 6 -- two neurons sit
#   exactly on |mean| = 0.5 and two on std = 1, counted because the test is
#   <= (with < it would be 4). Never active: 1 (not the half-zero one).
# Layer 1 (relu): bias -1 and bias 0 with zero weights are 0 on every row
#   (never active: 2); relu(0.5 (x1 + 0.25)) is 0.625, 0, 0.625, 0: mean and
#   std 0.3125. |mean| and std quantiles of {0, 0, 0.3125}: 0, 0, 0, 0.15625,
#   0.3125. Under: 2, 2, 3.
# Output logits (h, 0.1) with h = 0.625 on rows 1 and 3, 0 on rows 2 and 4:
# predictions 0,1,0,1 against labels 0,1,0,0, accuracy 3/4; cross-entropy
# (2 ln(1+e^-0.525) + ln(1+e^-0.1) + ln(1+e^0.1)) / 4 = 0.57955.
# The statistics file holds each neuron's mean, std, min, max and zero share.
$NNPRUNE stats data/cli_thr.json data/cli_thr.csv && cat nnprune.stats.json
