"""How long a deployment change made through one replica takes to be served by every replica.

Used by scripts/bench-scale-out.sh. Sends the change (METHOD URL JSON) with the admin token,
then asks every replica in turn (one kept-alive connection each, so a probe costs about a
millisecond) to predict at /v1/models/MODEL/predict until each names VERSION. Prints one line:

    call_ms=<the change's own round trip> <replica base>=<ms after the change was answered> ...

(each figure an upper bound: the end of the first answer naming VERSION). Exits 1 if a replica
has not followed within --within seconds.
"""

import argparse
import http.client
import json
import sys
import time
import urllib.parse


def connect(base: str) -> http.client.HTTPConnection:
    url = urllib.parse.urlsplit(base)
    return http.client.HTTPConnection(url.hostname, url.port, timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--token", required=True)
    parser.add_argument("--method", required=True)
    parser.add_argument("--url", required=True, help="the deployment change, on one replica")
    parser.add_argument("--json", required=True, help="its body")
    parser.add_argument("--model", default="iris")
    parser.add_argument("--body", required=True, help="a prediction request body (file)")
    parser.add_argument("--version", type=int, required=True, help="the version the change serves")
    parser.add_argument("--within", type=float, default=10.0)
    parser.add_argument("replicas", nargs="+", help="replica base URLs")
    args = parser.parse_args()

    headers = {"Authorization": f"Bearer {args.token}", "Content-Type": "application/json"}
    with open(args.body, "rb") as f:
        prediction = f.read()
    probes = {base: connect(base) for base in args.replicas}

    target = urllib.parse.urlsplit(args.url)
    change = connect(args.url)
    sent = time.monotonic()
    change.request(args.method, target.path, body=args.json.encode(), headers=headers)
    response = change.getresponse()
    answer = response.read()
    answered = time.monotonic()
    if response.status != 200:
        print(f"the change answered {response.status}: {answer!r}", file=sys.stderr)
        return 1

    reached: dict[str, float] = {}
    path = f"/v1/models/{args.model}/predict"
    while len(reached) < len(probes):
        for base, connection in probes.items():
            if base in reached:
                continue
            try:
                connection.request("POST", path, body=prediction, headers=headers)
                probe = connection.getresponse()
                body = probe.read()
            except (OSError, http.client.HTTPException):
                connection.close()
                probes[base] = connect(base)
                continue
            if probe.status == 200 and json.loads(body).get("version") == args.version:
                reached[base] = time.monotonic() - answered
        if time.monotonic() - answered > args.within:
            missing = sorted(set(probes) - set(reached))
            print(f"not served within {args.within} s by {missing}", file=sys.stderr)
            return 1
    figures = " ".join(f"{base}={reached[base] * 1000:.1f}" for base in args.replicas)
    print(f"call_ms={(answered - sent) * 1000:.1f} {figures}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
