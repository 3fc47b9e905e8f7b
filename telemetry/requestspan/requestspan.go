// Package requestspan owns what the HTTP server itself says of a request to
// its trace and logs: the route that matched, never the path, and the
// client it believes. It needs only OpenTelemetry's API, so the server
// package does not take in the exporters and SDK of package telemetry.
package requestspan

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Route is the path of the mux pattern that matched a request ("POST
// /multi/users/{user_id}" gives "/multi/users/{user_id}"), or "" when none
// did: what spans and logs name instead of a path holding users' ids.
func Route(pattern string) string {
	if i := strings.IndexByte(pattern, '/'); i >= 0 {
		return pattern[i:]
	}
	return ""
}

// SetClientAddress sets the client.address of the request span in ctx to ip,
// the client the server believes (the peer, or X-Forwarded-For only from a
// trusted proxy). otelhttp takes the first X-Forwarded-For entry from anyone,
// so every caller could name the address its requests were traced as, apart
// from the one the audit log and the rate limits record.
func SetClientAddress(ctx context.Context, ip string) {
	trace.SpanFromContext(ctx).SetAttributes(clientAddressKey.String(ip))
}

// clientAddressKey is OpenTelemetry's client.address attribute.
const clientAddressKey = attribute.Key("client.address")
