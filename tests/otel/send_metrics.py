"""Sends agent metrics to the portal with the OpenTelemetry Python SDK over OTLP/HTTP.

Usage: send_metrics.py ENDPOINT TEMPORALITY(cumulative|delta) ENCODING(gzip|none)
Records a counter, an up-down counter, a histogram (explicit buckets), an exponential
histogram and an observable gauge, exports twice, and exits non-zero if an export failed.
"""
import sys

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import Observation
from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    MeterProvider,
    ObservableGauge,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    InMemoryMetricReader,
    MetricExportResult,
)
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource

endpoint, temporality, encoding = sys.argv[1], sys.argv[2], sys.argv[3]
kind = AggregationTemporality.DELTA if temporality == "delta" else AggregationTemporality.CUMULATIVE
temporalities = {k: kind for k in (Counter, Histogram, UpDownCounter, ObservableGauge)}

exporter = OTLPMetricExporter(
    endpoint=endpoint,
    compression=Compression.Gzip if encoding == "gzip" else Compression.NoCompression,
    preferred_temporality=temporalities,
)
reader = InMemoryMetricReader(preferred_temporality=temporalities)
provider = MeterProvider(
    resource=Resource.create(
        {"service.name": "otel-agents", "service.instance.id": "worker-1", "deployment": "test"}
    ),
    metric_readers=[reader],
    views=[
        View(instrument_name="agent.llm.latency", aggregation=ExponentialBucketHistogramAggregation())
    ],
)
meter = provider.get_meter("agents")
tasks = meter.create_counter("agent.tasks", unit="{task}", description="Tasks finished")
inflight = meter.create_up_down_counter("agent.inflight", description="Tasks in progress")
duration = meter.create_histogram("agent.task.duration", unit="s", description="Task duration")
latency = meter.create_histogram("agent.llm.latency", unit="ms", description="LLM call latency")
meter.create_observable_gauge(
    "agent.memory.usage",
    unit="By",
    callbacks=[lambda _: [Observation(1024.0, {"agent.id": "a1"})]],
)

for round_ in range(2):
    tasks.add(3, {"agent.id": "a1", "status": "ok"})
    inflight.add(2, {"agent.id": "a1"})
    for seconds in (0.2, 0.7, 3.0):
        duration.record(seconds, {"agent.id": "a1"})
    for ms in (12.0, 40.0, 90.0):
        latency.record(ms, {"model": "small"})
    data = reader.get_metrics_data()
    result = exporter.export(data)
    if result != MetricExportResult.SUCCESS:
        sys.exit(f"export {round_} failed: {result}")
print("exported")
