# --format takes json or bin: 'yaml' is a usage error (exit 2).
$NNPRUNE convert --format yaml models/xor.json x.yaml
