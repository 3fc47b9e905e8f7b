package loadgen

import (
	"encoding/json"
	"errors"
	"time"
)

// resultJSON is a Result on the wire, from a load generator running in its
// own process (deputyload) to the benchmark that reads its report.
type resultJSON struct {
	Requests   int           `json:"requests"`
	Errors     int           `json:"errors"`
	FirstError string        `json:"firstError,omitempty"`
	Elapsed    time.Duration `json:"elapsedNs"`
	P50        time.Duration `json:"p50Ns"`
	P99        time.Duration `json:"p99Ns"`
	Max        time.Duration `json:"maxNs"`
}

// MarshalJSON writes the summary; the latencies stay behind.
func (r Result) MarshalJSON() ([]byte, error) {
	out := resultJSON{Requests: r.Requests, Errors: r.Errors, Elapsed: r.Elapsed, P50: r.P50, P99: r.P99, Max: r.Max}
	if r.FirstErr != nil {
		out.FirstError = r.FirstErr.Error()
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (r *Result) UnmarshalJSON(b []byte) error {
	var in resultJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*r = Result{Requests: in.Requests, Errors: in.Errors, Elapsed: in.Elapsed, P50: in.P50, P99: in.P99, Max: in.Max}
	if in.FirstError != "" {
		r.FirstErr = errors.New(in.FirstError)
	}
	return nil
}
