#!/usr/bin/python3
"""Writes psha1-vectors.txt: P_SHA1 (RFC 2246 section 5, P_hash with HMAC-SHA1) computed
with Python's hmac module, independently of certtether's OpenSSL code, for the unit test
test-certprov-xml. Inputs are derived deterministically so the file can be regenerated:

    /usr/bin/python3 tests/unit/data/certprov/psha1-vectors.py > tests/unit/data/certprov/psha1-vectors.txt

Each line: SECRET_HEX SEED_HEX LENGTH OUTPUT_HEX"""

import hashlib
import hmac


def p_sha1(secret, seed, length):
    out, a = b"", seed
    while len(out) < length:
        a = hmac.new(secret, a, hashlib.sha1).digest()
        out += hmac.new(secret, a + seed, hashlib.sha1).digest()
    return out[:length]


def stream(label, n):
    out, i = b"", 0
    while len(out) < n:
        out += hashlib.sha256(b"%s-%d" % (label.encode(), i)).digest()
        i += 1
    return out[:n]


# (secret length, seed length, output length): the CertProv case (32, 32, 32) and the
# block edges of P_SHA1 (19, 20, 21, 40, 41 bytes), long keys (> the 64-byte HMAC block)
CASES = [(32, 32, 32), (32, 32, 1), (32, 32, 19), (32, 32, 20), (32, 32, 21), (32, 32, 40),
         (32, 32, 41), (16, 24, 16), (64, 32, 64), (100, 7, 100), (1, 1, 5), (128, 128, 128)]

for n, (ks, ss, ol) in enumerate(CASES):
    secret, seed = stream("secret%d" % n, ks), stream("seed%d" % n, ss)
    print(secret.hex(), seed.hex(), ol, p_sha1(secret, seed, ol).hex())
