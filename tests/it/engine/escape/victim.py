# Project B's custom code in the escape suite: a function with a secret in its environment
# that prints a secret line, leaves a marker in its /tmp, and holds while project A attacks,
# checking all along that it can still start processes and write its /tmp. It answers
# what failed, so the test can tell whether A's attacks reached it.
import os
import subprocess
import time


def lambda_handler(event, context):
    secret = os.environ["B_SECRET"]
    print(f"secret line of B: {secret}", flush=True)
    marker = f"/tmp/{event['marker']}"
    with open(marker, "w") as f:
        f.write(secret)
    spawn_failures, tmp_failures = [], []
    deadline = time.time() + event["hold_seconds"]
    while time.time() < deadline:
        try:
            subprocess.run(["/bin/true"], check=True, timeout=10)
        except (OSError, subprocess.SubprocessError) as e:
            spawn_failures.append(repr(e))
        try:
            with open("/tmp/b-scratch", "wb") as f:
                f.write(b"\1" * (1 << 20))
            os.remove("/tmp/b-scratch")
        except OSError as e:
            tmp_failures.append(repr(e))
        time.sleep(0.2)
    with open(marker) as f:
        marker_intact = f.read() == secret
    return {"spawn_failures": spawn_failures[:10], "tmp_failures": tmp_failures[:10], "marker_intact": marker_intact}
