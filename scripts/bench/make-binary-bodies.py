#!/usr/bin/env python3
"""Writes the Open Inference Protocol binary-tensor bodies of the serving benchmark.

For each MODEL.v2.json in this folder (FP32 inputs only), MODEL.v2bin is the same request with
its input data as raw little-endian float32 after a JSON header (the binary tensor data
extension), asking for the outputs as JSON, and MODEL.v2bin.hlen is the header's length in
bytes, sent as Inference-Header-Content-Length. Outputs are named from
tests/fixtures/expected/MODEL.json. Run from anywhere: python3 scripts/bench/make-binary-bodies.py
"""
import json
import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXPECTED = HERE.parent.parent / "tests" / "fixtures" / "expected"


def main() -> None:
    for source in sorted(HERE.glob("*.v2.json")):
        model = source.name.removesuffix(".v2.json")
        request = json.loads(source.read_text())
        outputs = json.loads((EXPECTED / f"{model}.json").read_text())["signature"]["outputs"]
        header_inputs, payload = [], b""
        for tensor in request["inputs"]:
            if tensor["datatype"] != "FP32":
                raise SystemExit(f"{source.name}: only FP32 inputs are written as binary")
            data = struct.pack(f"<{len(tensor['data'])}f", *tensor["data"])
            header_inputs.append({
                "name": tensor["name"],
                "shape": tensor["shape"],
                "datatype": "FP32",
                "parameters": {"binary_data_size": len(data)},
            })
            payload += data
        header = {
            "inputs": header_inputs,
            "outputs": [{"name": o["name"], "parameters": {"binary_data": False}} for o in outputs],
        }
        encoded = json.dumps(header, separators=(",", ":")).encode()
        (HERE / f"{model}.v2bin").write_bytes(encoded + payload)
        (HERE / f"{model}.v2bin.hlen").write_text(f"{len(encoded)}\n")
        print(f"{model}.v2bin: {len(encoded)} + {len(payload)} bytes")


if __name__ == "__main__":
    main()
