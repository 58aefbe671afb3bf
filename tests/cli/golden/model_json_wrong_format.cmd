sed 's/"nnprune-model"/"onnx"/' models/xor.json > bad.json &&
$NNPRUNE info bad.json
