"""Validates a JSON document against one of nnprune's schemas (schema/).

usage: python3 check_schema.py SCHEMA.json DOC.json
Exit 0 when valid, 1 with the first errors on stdout when not, 77 when the
jsonschema module is missing (Debian: python3-jsonschema).
"""
import json
import sys

try:
    import jsonschema
except ImportError:
    print("the python3 jsonschema module is not installed")
    sys.exit(77)

schema = json.load(open(sys.argv[1]))
doc = json.load(open(sys.argv[2]))
cls = jsonschema.validators.validator_for(schema)
cls.check_schema(schema)
errors = sorted(cls(schema).iter_errors(doc), key=lambda e: list(e.path))
for e in errors[:5]:
    print("/".join(str(p) for p in e.path) or "(top)", ":", e.message)
sys.exit(1 if errors else 0)
