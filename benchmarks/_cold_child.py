"""One cold start, in a process of its own (run by cold_start.py as ``python -S _cold_child.py SPEC``).

SPEC is a JSON file: ``path`` (function folder, layer, boto3's site-packages: Lambda's order),
``event`` and ``out``. Writes the import time, the first invocation's time, the CPU time of both, its status and the
process's peak resident memory to ``out``. Imports nothing of its own beyond the standard library.
"""

import json
import sys
import time

started = time.perf_counter()
with open(sys.argv[1]) as spec_file:
    spec = json.load(spec_file)
sys.path[:0] = spec["path"]


def peak_rss_kib() -> int:
    """This process's peak resident set (VmHWM: getrusage's ru_maxrss starts at the parent's)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class Context:
    function_name = "signbridge-bench"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:signbridge-bench"
    aws_request_id = "bench-request"
    log_group_name = "/aws/lambda/signbridge-bench"
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 20_000


before_import, cpu_before_import = time.perf_counter(), time.process_time()
import app  # noqa: E402

imported = time.perf_counter()
response = app.handler(spec["event"], Context())
invoked, cpu_invoked = time.perf_counter(), time.process_time()
if isinstance(response, dict) and "statusCode" in response:
    outcome = str(response["statusCode"])
else:
    outcome = "failures: " + str(len((response or {}).get("batchItemFailures", [])))
with open(spec["out"], "w") as out:
    json.dump(
        {
            "import_s": imported - before_import,
            "invoke_s": invoked - imported,
            "cpu_s": cpu_invoked - cpu_before_import,
            "outcome": outcome,
            "peak_rss_kib": peak_rss_kib(),
        },
        out,
    )
