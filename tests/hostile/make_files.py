#!/usr/bin/env python3
"""Writes the small hostile inputs of files/ (run from tests/hostile/).
The big ones (gzip bombs, a million columns) are made by test_hostile.sh."""
import gzip, json, struct, zlib

XOR = json.load(open("../../models/xor.json"))

def put(name, data):
    if isinstance(data, str):
        data = data.encode()
    open("files/" + name, "wb").write(data)

def js(obj):
    return json.dumps(obj, indent=1)

# Strict JSON white space: form feed between tokens, a leading 0x01, a raw
# tab inside a string, a vertical tab before the object.
text = js(XOR)
put("ws_formfeed.json", text.replace('"version"', '\f"version"', 1))
put("ws_lead01.json", "\x01" + text)
put("ws_tab_in_string.json", text.replace('"xor"', '"x\tor"', 1))
put("ws_vtab.json", "\x0b" + text)

# Terminal escapes in what messages and info quote.
esc = json.loads(text)
esc["metadata"]["name"] = "evil\x1b[2J\x1b]0;title\x07\nsecond line"
put("esc_name.json", js(esc))
bad_act = json.loads(text)
bad_act["layers"][0]["activation"] = "relu\x1b[31m"
put("esc_activation.json", js(bad_act))
bad_fmt = json.loads(text)
bad_fmt["format"] = "\x1b[2Jnnprune\x9b"
put("esc_format.json", js(bad_fmt))

# 2^31 inputs, declared by a JSON model and by a binary header.
big = json.loads(text)
big["input_size"] = 2 ** 31
put("inputs_2p31.json", js(big))

def bin_model(input_size, outs, weights_nan=False, header_only=False):
    layers = b""
    for o, act in outs:
        layers += struct.pack("<IIfI", o, act, 0.0, 0)
    head = b"\x89NNP\r\n\x1a\n" + struct.pack("<IIIIII", 1, 0, input_size, len(outs), 0, 0)
    body = head + layers
    body += b"\0" * ((8 - len(body) % 8) % 8)
    if header_only:
        return body + b"\0" * 64
    prev = input_size
    vals = []
    for o, _ in outs:
        vals += [0.5] * (o * prev) + [0.0] * o
        prev = o
    if weights_nan:
        vals[1] = float("nan")
    body += struct.pack("<%df" % len(vals), *vals)
    return body + struct.pack("<I", zlib.crc32(body))

put("inputs_2p31.bin", bin_model(2 ** 31, [(2, 1), (2, 5)], header_only=True))
put("nan_weight.bin", bin_model(2, [(2, 1), (2, 5)], weights_nan=True))
put("nan_weight.json", js(XOR).replace('"bias": [', '"bias": [NaN, ', 1))

# IDX: dimensions whose product overflows 64 bits, and a count beyond the file.
put("idx_dims_overflow.idx", b"\0\0\x08\x03" + struct.pack(">III", 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF))
put("idx_count_2p31.idx", b"\0\0\x08\x02" + struct.pack(">II", 2 ** 31, 2) + b"\1\2\3\4")
put("idx_labels.idx", b"\0\0\x08\x01" + struct.pack(">I", 2) + b"\0\1")
put("idx_images.idx", b"\0\0\x08\x02" + struct.pack(">II", 2, 2) + b"\1\2\3\4")

# gzip cut short, and followed by bytes that are no gzip member.
csv = b"0,0,0\n0,1,1\n1,0,1\n1,1,0\n" * 50
z = gzip.compress(csv, mtime=0)
put("gz_truncated.csv.gz", z[: len(z) - 6])
put("gz_trailing.csv.gz", z + b"garbage")
put("gz_two_members.csv.gz", gzip.compress(csv[:24], mtime=0) + gzip.compress(csv[24:], mtime=0))
put("xor.csv", csv[:24])
