#!/usr/bin/env python3
"""kagi-tx:1 reference encoding (docs/protocol.md, "Transaction confirmation"), standard library only.

A bank rebuilds the signed message from its OWN record of the request, never from what the page
posted, then verifies the token's signature over it (ES256: ECDSA P-256 with SHA-256 over
`message`; RS256: PKCS#1 v1.5 with SHA-256). Run without arguments, it prints the golden vector
of docs/protocol.md; proto/tests/kagi_tx_python.rs runs it so it cannot drift from the Rust code.
"""
import hashlib
import struct
import unicodedata

FORMAT = b"kagi-tx:1"

PARTY = ["userNo", "name", "bankCode", "bankName", "branchCode", "branchName", "accountType", "accountNo"]
DENSAI = (["kind", "requestId", "requestVersion", "recordNumber", "amountYen", "recordDate", "dueDate"]
          + ["payer." + f for f in PARTY] + ["counterparty." + f for f in PARTY]
          + ["transferRestricted", "guarantee", "newCounterparty"])
SCHEMAS = {"densai.transfer/1": DENSAI, "densai.issue.debtor/1": DENSAI}


def body(tx):
    """Every field of the kind's schema, in order: u8 len(name) | name | u32 BE len(value) | value."""
    names = SCHEMAS[tx["kind"]]
    if set(tx) != set(names):
        raise ValueError("fields differ from the schema of " + tx["kind"])
    out = b""
    for name in names:
        value = tx[name]
        if not isinstance(value, str) or unicodedata.normalize("NFC", value) != value:
            raise ValueError(name + ": a string in NFC")
        n, v = name.encode("ascii"), value.encode("utf-8")
        out += struct.pack(">B", len(n)) + n + struct.pack(">I", len(v)) + v
    return out


def message(origin, nonce, tx):
    """The 105 bytes the token signs (through their SHA-256)."""
    h = lambda b: hashlib.sha256(b).digest()
    return FORMAT + h(origin.encode("ascii")) + h(nonce.encode("ascii")) + h(body(tx))


GOLDEN = {
    "kind": "densai.transfer/1", "requestId": "TR-20261130-0001", "requestVersion": "1",
    "recordNumber": "20261130KG0000000001", "amountYen": "12345678",
    "recordDate": "2026-12-01", "dueDate": "2027-02-26",
    "payer.userNo": "123456789", "payer.name": "株式会社鍵商事", "payer.bankCode": "0999",
    "payer.bankName": "鍵デモ信用金庫", "payer.branchCode": "001", "payer.branchName": "本店",
    "payer.accountType": "1", "payer.accountNo": "1234567",
    "counterparty.userNo": "987654321", "counterparty.name": "ｶﾌﾞｼｷｶﾞｲｼｬ ﾐﾅﾐﾌﾞﾋﾝ",
    "counterparty.bankCode": "0999", "counterparty.bankName": "鍵デモ信用金庫",
    "counterparty.branchCode": "002", "counterparty.branchName": "駅前支店",
    "counterparty.accountType": "2", "counterparty.accountNo": "7654321",
    "transferRestricted": "0", "guarantee": "1", "newCounterparty": "1",
}

if __name__ == "__main__":
    origin, nonce = "https://bank.example", "A" * 43
    b = body(GOLDEN)
    m = message(origin, nonce, GOLDEN)
    print("body bytes", len(b))
    print("body sha256", hashlib.sha256(b).hexdigest())
    print("message", m.hex())
    print("digest", hashlib.sha256(m).hexdigest())
