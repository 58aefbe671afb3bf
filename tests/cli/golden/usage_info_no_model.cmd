# info without a MODEL: usage error (exit 2).
$NNPRUNE info
