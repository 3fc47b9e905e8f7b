// Package telemetry owns Deputy's metrics and traces: the OpenTelemetry meter
// provider behind the Prometheus endpoint of the admin listener, the tracer
// provider exporting spans by OTLP, the HTTP instrumentation (otelhttp, with the
// request-ref on each request span), the core.Observer that turns domain events
// into counters and histograms, and the log handler that puts the trace id on
// each log line. Every metric name Deputy defines is declared here or in
// otelstore; labels only ever carry core's closed sets of values.
//
// Both halves are off unless configured: with neither, the providers are
// no-ops and nothing is measured or exported.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/deputyhq/deputy/telemetry/requestspan"
)

// Config says which halves are on.
type Config struct {
	// Metrics turns on the meter provider and its Prometheus registry
	// (served by MetricsHandler).
	Metrics bool
	// OTLPEndpoint is the base URL of an OTLP/HTTP collector
	// (http://collector:4318, as OTEL_EXPORTER_OTLP_ENDPOINT); spans go to
	// its /v1/traces. Empty: no traces.
	OTLPEndpoint string
	// Version is the service.version resource attribute.
	Version string
}

// Telemetry is the configured providers. Build one with New; Shutdown flushes
// what is still buffered.
type Telemetry struct {
	Meter    metric.MeterProvider
	Tracer   trace.TracerProvider
	registry *prometheus.Registry // nil without metrics
	shutdown []func(context.Context) error
}

// New builds the providers cfg asks for.
func New(ctx context.Context, cfg Config) (*Telemetry, error) {
	t := &Telemetry{Meter: metricnoop.NewMeterProvider(), Tracer: tracenoop.NewTracerProvider()}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		attribute.String("service.name", "deputy"), attribute.String("service.version", cfg.Version)))
	if err != nil {
		return nil, fmt.Errorf("telemetry resource: %w", err)
	}
	if cfg.Metrics {
		t.registry = prometheus.NewRegistry()
		t.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		exp, err := otelprom.New(otelprom.WithRegisterer(t.registry))
		if err != nil {
			return nil, fmt.Errorf("prometheus exporter: %w", err)
		}
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithResource(res))
		t.Meter, t.shutdown = mp, append(t.shutdown, mp.Shutdown)
	}
	if cfg.OTLPEndpoint != "" {
		if err := checkEndpoint(cfg.OTLPEndpoint); err != nil {
			return nil, err
		}
		exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(strings.TrimSuffix(cfg.OTLPEndpoint, "/")+"/v1/traces"))
		if err != nil {
			return nil, fmt.Errorf("OTLP trace exporter for %s: %w", cfg.OTLPEndpoint, err)
		}
		limits := sdktrace.NewSpanLimits()
		limits.AttributeValueLengthLimit = attributeValueLimit
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res), sdktrace.WithRawSpanLimits(limits))
		t.Tracer, t.shutdown = tp, append(t.shutdown, tp.Shutdown)
	}
	return t, nil
}

// checkEndpoint refuses an OTLP endpoint the exporter cannot use as meant: it
// takes only the host and path of the URL, falls back to localhost:4318 for
// one it cannot parse, exports nowhere for one without a host
// (collector:4318), and in plain text for any scheme but https. A user name
// or password, a query (?api-key=) or a fragment would be ignored by the
// exporter and repeated in the serving log line; a query also took the
// "/v1/traces" New appends, so spans went to "/". No error quotes the value:
// a mistyped one (collector:secret@host parses as a scheme) still holds its
// credentials.
func checkEndpoint(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return errors.New("OTLP endpoint: not a URL such as http://collector:4318")
	case u.User != nil:
		return errors.New("OTLP endpoint: the URL must not carry a user name or password (give credentials in OTEL_EXPORTER_OTLP_HEADERS)")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return errors.New("OTLP endpoint: the URL must not carry a query or fragment (give credentials in OTEL_EXPORTER_OTLP_HEADERS)")
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return errors.New("OTLP endpoint: not an absolute http(s) URL such as http://collector:4318")
	}
	return nil
}

// attributeValueLimit bounds each string attribute of a span, in bytes:
// otelhttp copies what the caller sent (user_agent.original,
// http.request.method_original) as it came, up to the HTTP server's megabyte
// of headers, into every request span queued for and exported to the
// collector; the SDK's default is unlimited.
const attributeValueLimit = 256

// Shutdown exports what is buffered and stops the providers.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	for _, f := range t.shutdown {
		errs = append(errs, f(ctx))
	}
	return errors.Join(errs...)
}

// MetricsHandler serves the Prometheus exposition of every metric; nil
// without metrics. It belongs on the admin listener only.
func (t *Telemetry) MetricsHandler() http.Handler {
	if t.registry == nil {
		return nil
	}
	return promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{})
}

// RequestRefKey is the request span's attribute holding the request-ref
// header the server answered with.
const RequestRefKey = attribute.Key("deputy.request_ref")

// HTTPHandler instruments h: a span per request and OpenTelemetry's HTTP
// server metrics (http.server.request.duration and the rest), named and
// labelled by the route pattern h matched (h must copy it back to the request
// it was given, as server.Server does), never by the raw path; the request
// span carries the request-ref.
//
// The server is named serverName, not by the request's Host header: otelhttp
// takes server.address and server.port from Host when no name is given, and
// Host is the caller's to choose, so each invented host or port was a new
// series of every HTTP metric. The protocol version is bounded the same way
// (boundedProto).
func (t *Telemetry) HTTPHandler(h http.Handler) http.Handler {
	return boundedProto(otelhttp.NewHandler(requestRef(h), "deputy",
		otelhttp.WithTracerProvider(t.Tracer), otelhttp.WithMeterProvider(t.Meter), otelhttp.WithServerName(serverName)))
}

// boundedProto gives next an HTTP/1.1 request for any HTTP/1 minor version
// above 1, as RFC 9110 §2.5 says to process one. Go's server takes HTTP/1.0
// to HTTP/1.9 from the request line, and otelhttp labels every HTTP metric
// with it (network.protocol.version): each made-up version was a new set of
// series.
func boundedProto(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 1 && r.ProtoMinor > 1 {
			r = r.WithContext(r.Context())
			r.Proto, r.ProtoMinor = "HTTP/1.1", 1
		}
		next.ServeHTTP(w, r)
	})
}

// serverName is the fixed server.address of the request spans and metrics;
// port 0 keeps otelhttp from reading a port from the Host header (it records
// none).
const serverName = "deputy:0"

// requestRef puts on the request span what is known once next has answered:
// the request-ref header and the route that matched (otelhttp itself puts the
// route on the metrics and in the span's name only). The route also replaces
// the url.path otelhttp recorded: the path holds users' ids
// (/multi/users/100000002) and, on unknown routes, whatever an outsider sent.
// The request log names the route too; the audit log records whom a change
// acted on.
func requestRef(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		span := trace.SpanFromContext(r.Context())
		if ref := w.Header().Get("request-ref"); ref != "" {
			span.SetAttributes(RequestRefKey.String(ref))
		}
		route := requestspan.Route(r.Pattern)
		if route != "" {
			span.SetAttributes(httpRouteKey.String(route))
		}
		span.SetAttributes(urlPathKey.String(route))
	})
}

// httpRouteKey and urlPathKey are OpenTelemetry's http.route and url.path
// attributes.
const (
	httpRouteKey = attribute.Key("http.route")
	urlPathKey   = attribute.Key("url.path")
)
