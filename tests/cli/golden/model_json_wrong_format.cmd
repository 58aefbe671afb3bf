# "format" must say "nnprune-model"; "onnx" is refused (exit 3).
sed 's/"nnprune-model"/"onnx"/' models/xor.json > bad.json &&
$NNPRUNE info bad.json
