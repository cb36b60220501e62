"""Sends agent logs to the portal with the OpenTelemetry Python SDK over OTLP/HTTP.

Usage: send_logs.py ENDPOINT ENCODING(gzip|none)
Logs through Python's `logging` with the SDK's LoggingHandler, as an instrumented program
does: an info line with extra attributes, a warning, and an exception with its stack trace,
inside a span so that the records carry its trace and span ids. Prints the trace id and
exits non-zero if an export failed.
"""
import logging
import sys

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import LogRecordExportResult, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

endpoint, encoding = sys.argv[1], sys.argv[2]


class Recording(OTLPLogExporter):
    """The SDK's exporter, remembering whether every export succeeded."""

    failed = False

    def export(self, batch):
        result = super().export(batch)
        if result != LogRecordExportResult.SUCCESS:
            Recording.failed = True
        return result


resource = Resource.create(
    {"service.name": "otel-agents", "service.instance.id": "worker-1", "deployment": "test"}
)
provider = LoggerProvider(resource=resource)
provider.add_log_record_processor(
    SimpleLogRecordProcessor(
        Recording(
            endpoint=endpoint,
            compression=Compression.Gzip if encoding == "gzip" else Compression.NoCompression,
        )
    )
)
logger = logging.getLogger("agents.coder")
logger.setLevel(logging.INFO)
logger.propagate = False
logger.addHandler(LoggingHandler(level=logging.INFO, logger_provider=provider))

tracer = TracerProvider(resource=resource).get_tracer("agents")
with tracer.start_as_current_span("task") as span:
    trace_id = format(span.get_span_context().trace_id, "032x")
    logger.info(
        "task started", extra={"agent.id": "coder-1", "task_id": "t-42", "attempt": 1}
    )
    logger.warning("tool search slow: %d ms", 1840, extra={"agent.id": "coder-1", "tool": "search"})
    try:
        {}["missing"]
    except KeyError:
        logger.exception("tool call failed", extra={"agent.id": "coder-1", "tool": "search"})

provider.shutdown()
if Recording.failed:
    print("export failed", file=sys.stderr)
    sys.exit(1)
print(f"exported {trace_id}")
