"""OpenTelemetry traces and metrics for every TextFlow call (extra ``otel``).

``textflow.instrument()`` (or this package's `TextFlowInstrumentor`, which
``opentelemetry-instrument`` finds through its ``opentelemetry_instrumentor``
entry point) makes every call of every client, sync or async, a CLIENT span
named ``textflow <operation>``, and records the metrics listed in
docs/observability.md. ``uninstrument()`` stops it.

Only ``opentelemetry-api`` is needed at run time, and it is imported by
``instrument()``, never by ``import textflow``: without the extra, the SDK
neither imports it nor pays for it.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from typing import TYPE_CHECKING, Any, Optional

from textflow import _hooks
from textflow.errors import ConfigurationError

if TYPE_CHECKING:
    from textflow.integrations.opentelemetry._observer import OpenTelemetryObserver

__all__ = ["TextFlowInstrumentor", "instrument", "record_decision", "uninstrument"]

_lock = threading.Lock()
_installed: Optional[OpenTelemetryObserver] = None


def instrument(*, tracer_provider: Any = None, meter_provider: Any = None) -> None:
    """Trace and measure every TextFlow call from now on (again: replaces the providers).

    Args:
        tracer_provider: An OpenTelemetry ``TracerProvider``; default the global one.
        meter_provider: A ``MeterProvider``; default the global one.

    Raises:
        ConfigurationError: ``opentelemetry-api`` is not installed
            (``pip install 'textflowsms[otel]'``).

    Examples:
        >>> import textflow
        >>> textflow.instrument()
    """
    global _installed
    try:
        from textflow.integrations.opentelemetry._observer import OpenTelemetryObserver
    except ImportError as exc:
        raise ConfigurationError(
            "textflow.instrument() needs OpenTelemetry's API: pip install 'textflowsms[otel]'"
        ) from exc
    observer = OpenTelemetryObserver(tracer_provider, meter_provider)
    with _lock:
        if _installed is not None:
            _hooks.OBSERVERS.remove(_installed)
        _installed = observer
        _hooks.OBSERVERS.append(observer)


def uninstrument() -> None:
    """Stop tracing TextFlow calls (nothing happens if `instrument` was not called).

    Examples:
        >>> import textflow
        >>> textflow.uninstrument()
    """
    global _installed
    with _lock:
        if _installed is not None:
            _hooks.OBSERVERS.remove(_installed)
            _installed = None


def is_instrumented() -> bool:
    """Whether `instrument` is in force."""
    return _installed is not None


def record_decision(decision: Any) -> None:
    """A verification guard's ``on_decision`` hook: the decision as an event and a count.

    Adds a ``textflow.guard.decision`` event to the current span (the guard's
    own call), and counts ``textflow.guard.decisions`` by ``textflow.guard.reason``
    and ``textflow.guard.allowed``. Does nothing until `instrument` is called.
    """
    observer = _installed
    if observer is not None:
        observer.decision(decision)


class TextFlowInstrumentor:
    """What ``opentelemetry-instrument`` loads (entry point ``opentelemetry_instrumentor``).

    The same as `instrument` / `uninstrument`, in the shape of OpenTelemetry's
    ``BaseInstrumentor`` (``instrument(**kwargs)``, ``uninstrument(**kwargs)``,
    ``instrumentation_dependencies()``), without needing
    ``opentelemetry-instrumentation`` itself.
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        """Packages that must be installed: none beyond the SDK itself."""
        return ()

    def instrument(self, **kwargs: Any) -> None:
        """Start tracing; takes ``tracer_provider=`` and ``meter_provider=``, ignores the rest."""
        instrument(
            tracer_provider=kwargs.get("tracer_provider"),
            meter_provider=kwargs.get("meter_provider"),
        )

    def uninstrument(self, **kwargs: Any) -> None:
        """Stop tracing."""
        uninstrument()

    @property
    def is_instrumented_by_opentelemetry(self) -> bool:
        """Whether tracing is on."""
        return is_instrumented()
