$NNPRUNE convert --format yaml models/xor.json x.yaml
