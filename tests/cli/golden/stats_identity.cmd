# Hidden layer = relu(identity) on non-negative inputs, so the activations are
# the features themselves: x1 = 1,3,5,7 (mean 4, population std sqrt(5) =
# 2.2360679775, min 1, max 7, no zeros); x2 = 0,0,2,2 (mean 1, std 1, min 0,
# max 2, zero half the time). Output = softmax(x1, x2) always picks class 0
# and labels are 0,1,0,1: accuracy 0.5. Cross-entropy: ln(1+e^-1) +
# ln(1+e^3) + ln(1+e^-3) + ln(1+e^5) = 0.31326 + 3.04859 + 0.04859 + 5.00672,
# divided by 4 = 2.10429.
$NNPRUNE stats data/cli_id.json data/cli_id.csv && cat nnprune.stats.json
