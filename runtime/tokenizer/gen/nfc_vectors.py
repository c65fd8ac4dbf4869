#!/usr/bin/env python3
"""Writes ../testdata/nfc_vectors.jsonl: random strings with their NFC and NFD
forms from Python's unicodedata, to check nfc.go against an independent
implementation. Run from this folder: python3 nfc_vectors.py"""
import json
import random
import unicodedata as ud

rng = random.Random(7)
decomposable = [chr(c) for c in range(0x110000)
                if not 0xD800 <= c <= 0xDFFF and ud.decomposition(chr(c))
                and not ud.decomposition(chr(c)).startswith("<")]
combining = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF and ud.combining(chr(c))]
plain = list("aeiouAEIOUnNcCsSzZ kgh") + ["\u3042", "\u304b", "\u0915", "\u0627"]
hangul = ([chr(c) for c in range(0x1100, 0x1113)] + [chr(c) for c in range(0x1161, 0x1176)]
          + [chr(c) for c in range(0x11A8, 0x11C3)] + [chr(rng.randrange(0xAC00, 0xD7A4)) for _ in range(40)])
pools = [decomposable, combining, plain, hangul]
weights = [3, 4, 4, 2]

with open("../testdata/nfc_vectors.jsonl", "w", encoding="utf-8") as f:
    for _ in range(800):
        s = "".join(rng.choice(rng.choices(pools, weights)[0]) for _ in range(rng.randint(1, 8)))
        f.write(json.dumps({"s": s, "nfc": ud.normalize("NFC", s), "nfd": ud.normalize("NFD", s)},
                           ensure_ascii=False) + "\n")
