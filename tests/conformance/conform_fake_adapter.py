"""A misbehaving adapter for the runner's tests: the reference, except at step 1.

Usage: python conform_fake_adapter.py MODE. MODE says what goes wrong:
ok (nothing), hang (no reply to step 1), crash (exit 3 at step 1, after a
line on stderr), garbage (a non-JSON line), wrong-index, bad-observation
(an announce observation without "status"), error (an error reply),
bad-hello (the handshake reply is wrong), old-protocol (hello says 99),
protocol-1 (hello says 1: an adapter written for the previous version),
flood (megabytes on stderr, then a correct reply), seed-only (declares only
the seed preset and no gated feature), decline (answers every reset with
unsupported).
"""

import json
import sys
import time

from privtrak.conformance import Execution
from privtrak.conformance._adapter import ALL_FEATURES
from privtrak.conformance._steps import Where
from privtrak.conformance._steps_json import decode_step, encode_observation
from privtrak.reference import UserId, parse_config


def main() -> int:
    mode = sys.argv[1]
    execution = None
    for line in sys.stdin:
        msg = json.loads(line)
        kind = msg["type"]
        if kind == "hello":
            if mode == "bad-hello":
                reply = {"type": "howdy"}
            else:
                features = ["preset:seed"] if mode == "seed-only" else list(ALL_FEATURES)
                version = {"old-protocol": 99, "protocol-1": 1}.get(mode, 2)
                reply = {"type": "hello", "protocol": version,
                         "implementation": f"fake-{mode}", "version": "0",
                         "features": features}
            print(json.dumps(reply), flush=True)
        elif kind == "reset" and mode == "decline":
            print(json.dumps({"type": "unsupported", "reason": "not today"}), flush=True)
        elif kind == "reset":
            allow = msg["allow_list"]
            execution = Execution(parse_config(msg["config"]), msg["start"],
                                  None if allow is None else
                                  frozenset(UserId(bytes.fromhex(u)) for u in allow))
            print(json.dumps({"type": "ready"}), flush=True)
        elif kind == "step":
            index = msg["index"]
            obs = encode_observation(execution.apply(decode_step(msg["step"], Where())))
            reply = {"type": "observation", "index": index, "observation": obs}
            if index == 1:
                if mode == "hang":
                    time.sleep(3600)
                elif mode == "crash":
                    print("fake adapter: simulated crash at step 1", file=sys.stderr, flush=True)
                    return 3
                elif mode == "garbage":
                    print("this is not json", flush=True)
                    continue
                elif mode == "wrong-index":
                    reply["index"] = 7
                elif mode == "bad-observation" and "status" in obs:
                    del obs["status"]
                elif mode == "error":
                    reply = {"type": "error", "index": index, "code": "crashed",
                             "message": "cannot do that"}
                elif mode == "flood":
                    for _ in range(20000):
                        print("x" * 100, file=sys.stderr)
            print(json.dumps(reply), flush=True)
        elif kind == "bye":
            return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
