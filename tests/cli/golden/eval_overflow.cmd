# Weights of 3e38 are valid floats, but the activations overflow to inf and the
# softmax to NaN: eval and stats refuse to score rows whose outputs are not
# finite (exit 3), naming the model and the data.
cat >ovf.json <<'JSON'
{"format":"nnprune-model","version":1,"input_size":2,"layers":[
 {"activation":"relu","weights":[[3e38,3e38],[1,1]],"bias":[0,0]},
 {"activation":"softmax","weights":[[3e38,1],[1,1]],"bias":[0,0]}]}
JSON
printf '0,1,1\n1,0,1\n1,0,0\n' >ovf.csv
$NNPRUNE eval ovf.json ovf.csv
echo "eval: $?"
$NNPRUNE stats -q ovf.json ovf.csv
echo "stats: $?"
test -e nnprune.stats.json && echo "a statistics file was written"
exit 0
