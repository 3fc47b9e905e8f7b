// Package control lets operator commands reach a running server. bbolt lets
// one process at a time open the database, so while `deputy serve` runs,
// `deputy programme create|rotate-key|settings|webhooks` cannot open it themselves:
// the server listens on a Unix socket next to the database file, which only
// the file's owner may connect to (mode 0600), and the commands send their
// work there instead. The socket speaks HTTP with JSON bodies; it is not part
// of the public API and never listens on the network.
package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/deputyhq/deputy/core"
)

// Operations are what the operator commands do; *core.Service implements them
// for a database the command opens itself, and *Client through a running server.
type Operations interface {
	CreateProgramme(ctx context.Context, in core.NewProgramme) (*core.CreatedProgramme, error)
	RotateKey(ctx context.Context, programmeID string, kind core.KeyKind, grace time.Duration) (string, error)
	Programme(ctx context.Context, id string) (*core.Programme, error)
	UpdateProgrammeSettings(ctx context.Context, id string, from *core.ProgrammeSettings, set core.ProgrammeSettings) (*core.Programme, error)
	ExportAudit(ctx context.Context, programmeID string, w io.Writer) error
	AddWebhook(ctx context.Context, programmeID string, in core.NewWebhook) (*core.CreatedWebhook, error)
	Webhooks(ctx context.Context, programmeID string) ([]*core.Webhook, error)
	RemoveWebhook(ctx context.Context, programmeID, id string) error
	RotateWebhookSecret(ctx context.Context, programmeID, id string, overlap time.Duration) (string, error)
	WebhookDeliveries(ctx context.Context, programmeID, endpointID string, before uint64, limit int) ([]*core.WebhookDeliveryView, error)
	RedeliverWebhooks(ctx context.Context, programmeID, endpointID string, r core.Redeliver) (int, error)
}

var _ Operations = (*core.Service)(nil)

// Backuper writes a consistent copy of the database (boltstore.Store.Backup).
type Backuper interface {
	Backup(ctx context.Context, w io.Writer) (int64, error)
}

// SocketPath is where the server of the database at db listens.
func SocketPath(db string) string { return db + ".sock" }

// Listen opens the control socket of the database at db. The caller holds
// the database, so a socket file left by a server that crashed is stale and
// is replaced. The socket is made in a directory only the owner may enter and
// renamed into place once it is the owner's only, so at no moment can anyone
// else connect to it, whatever the umask.
func Listen(db string) (net.Listener, error) {
	path := SocketPath(db)
	fail := func(err error) (net.Listener, error) { return nil, fmt.Errorf("control socket %s: %w", path, err) }
	private, err := os.MkdirTemp(filepath.Dir(path), ".deputy-") // 0700
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(private)
	making := filepath.Join(private, "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: making, Net: "unix"})
	if err != nil {
		return fail(err)
	}
	ln.SetUnlinkOnClose(false) // the file is renamed: socketListener removes it
	// Connecting needs write permission on the socket: the owner's only.
	err = os.Chmod(making, 0o600)
	if err == nil {
		err = os.Rename(making, path)
	}
	if err != nil {
		ln.Close()
		return fail(err)
	}
	return &socketListener{UnixListener: ln, path: path}, nil
}

// socketListener removes the socket file it was renamed to when it closes.
type socketListener struct {
	*net.UnixListener
	path string
}

func (l *socketListener) Close() error {
	err := l.UnixListener.Close()
	if rmErr := os.Remove(l.path); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) && err == nil {
		err = rmErr
	}
	return err
}

// Wire shapes.
type (
	rotateRequest struct {
		Kind  core.KeyKind
		Grace time.Duration
	}
	rotateResponse struct{ Key string }
	// programmeView is a programme without its key hashes.
	programmeView struct {
		ID, Name string
		Settings core.ProgrammeSettings
	}
	createdView struct {
		Programme     programmeView
		APIKey, UIKey string
	}
	errorResponse       struct{ Error string }
	rotateSecretRequest struct{ Overlap time.Duration }
	deliveriesRequest   struct {
		Before uint64
		Limit  int
	}
	countResponse struct{ Count int }
)

func viewOf(p *core.Programme) programmeView {
	return programmeView{ID: p.ID, Name: p.Name, Settings: p.Settings}
}

// shutdownTimeout bounds how long a stopping server waits for the operator
// requests in flight.
const shutdownTimeout = 10 * time.Second

// Serve answers operator requests on ln with ops, and backups with db, until
// ctx ends; then it closes ln, which removes the socket file, and returns
// once the requests in flight have finished (up to shutdownTimeout).
func Serve(ctx context.Context, ln net.Listener, ops Operations, db Backuper) error {
	srv := &http.Server{Handler: handler(ops, db), ReadHeaderTimeout: 5 * time.Second}
	drained := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(drained)
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			srv.Close()
		}
	})
	err := srv.Serve(ln)
	if !stop() { // ctx ended: Shutdown is draining
		<-drained
	}
	if !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// handler answers the control socket's requests with ops and db.
func handler(ops Operations, db Backuper) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /backup", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		if _, err := db.Backup(r.Context(), w); err != nil {
			// Too late for a status: drop the connection, so that the client
			// sees a copy cut short rather than a complete-looking one.
			panic(http.ErrAbortHandler)
		}
	})
	mux.HandleFunc("GET /programmes/{id}/audit", func(w http.ResponseWriter, r *http.Request) {
		out := &startedWriter{w: w}
		err := ops.ExportAudit(r.Context(), r.PathValue("id"), out)
		switch {
		case err == nil:
		case !out.started:
			answer(w, nil, func() (any, error) { return nil, err })
		default:
			panic(http.ErrAbortHandler) // cut the stream: the client sees an error
		}
	})
	mux.HandleFunc("POST /programmes", func(w http.ResponseWriter, r *http.Request) {
		var in core.NewProgramme
		answer(w, decode(w, r, &in), func() (any, error) {
			out, err := ops.CreateProgramme(r.Context(), in)
			if err != nil {
				return nil, err
			}
			return createdView{viewOf(out.Programme), out.APIKey, out.UIKey}, nil
		})
	})
	mux.HandleFunc("POST /programmes/{id}/rotate-key", func(w http.ResponseWriter, r *http.Request) {
		var in rotateRequest
		answer(w, decode(w, r, &in), func() (any, error) {
			key, err := ops.RotateKey(r.Context(), r.PathValue("id"), in.Kind, in.Grace)
			return rotateResponse{Key: key}, err
		})
	})
	mux.HandleFunc("GET /programmes/{id}", func(w http.ResponseWriter, r *http.Request) {
		answer(w, nil, func() (any, error) {
			p, err := ops.Programme(r.Context(), r.PathValue("id"))
			if err != nil {
				return nil, err
			}
			return viewOf(p), nil
		})
	})
	mux.HandleFunc("PUT /programmes/{id}/settings", func(w http.ResponseWriter, r *http.Request) {
		var in settingsChange
		answer(w, decode(w, r, &in), func() (any, error) {
			p, err := ops.UpdateProgrammeSettings(r.Context(), r.PathValue("id"), in.From, in.To)
			if err != nil {
				return nil, err
			}
			return viewOf(p), nil
		})
	})
	webhookRoutes(mux, ops)
	return mux
}

// webhookRoutes answers the webhook operations (deputy programme webhooks).
func webhookRoutes(mux *http.ServeMux, ops Operations) {
	mux.HandleFunc("POST /programmes/{id}/webhooks", func(w http.ResponseWriter, r *http.Request) {
		var in core.NewWebhook
		answer(w, decode(w, r, &in), func() (any, error) { return ops.AddWebhook(r.Context(), r.PathValue("id"), in) })
	})
	mux.HandleFunc("GET /programmes/{id}/webhooks", func(w http.ResponseWriter, r *http.Request) {
		answer(w, nil, func() (any, error) { return ops.Webhooks(r.Context(), r.PathValue("id")) })
	})
	mux.HandleFunc("DELETE /programmes/{id}/webhooks/{hook}", func(w http.ResponseWriter, r *http.Request) {
		answer(w, nil, func() (any, error) {
			return struct{}{}, ops.RemoveWebhook(r.Context(), r.PathValue("id"), r.PathValue("hook"))
		})
	})
	mux.HandleFunc("POST /programmes/{id}/webhooks/{hook}/rotate-secret", func(w http.ResponseWriter, r *http.Request) {
		var in rotateSecretRequest
		answer(w, decode(w, r, &in), func() (any, error) {
			key, err := ops.RotateWebhookSecret(r.Context(), r.PathValue("id"), r.PathValue("hook"), in.Overlap)
			return rotateResponse{Key: key}, err
		})
	})
	mux.HandleFunc("POST /programmes/{id}/webhooks/{hook}/deliveries", func(w http.ResponseWriter, r *http.Request) {
		var in deliveriesRequest
		answer(w, decode(w, r, &in), func() (any, error) {
			return ops.WebhookDeliveries(r.Context(), r.PathValue("id"), r.PathValue("hook"), in.Before, in.Limit)
		})
	})
	mux.HandleFunc("POST /programmes/{id}/webhooks/{hook}/redeliver", func(w http.ResponseWriter, r *http.Request) {
		var in core.Redeliver
		answer(w, decode(w, r, &in), func() (any, error) {
			n, err := ops.RedeliverWebhooks(r.Context(), r.PathValue("id"), r.PathValue("hook"), in)
			return countResponse{Count: n}, err
		})
	})
}

func decode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// answer writes do's result, or the error that stopped it: bad requests as
// 400, core's errors with their message as 422, anything else as 500.
func answer(w http.ResponseWriter, decodeErr error, do func() (any, error)) {
	w.Header().Set("Content-Type", "application/json")
	if decodeErr != nil {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(errorResponse{Error: "control request: " + decodeErr.Error()})
		return
	}
	out, err := do()
	var ce *core.Error
	switch {
	case err == nil:
		_ = json.NewEncoder(w).Encode(out)
	case errors.As(err, &ce):
		w.WriteHeader(http.StatusUnprocessableEntity)
		_ = json.NewEncoder(w).Encode(errorResponse{Error: err.Error()})
	default:
		w.WriteHeader(http.StatusInternalServerError)
		_ = json.NewEncoder(w).Encode(errorResponse{Error: err.Error()})
	}
}

// startedWriter says whether anything was written, and so whether an error
// can still get a status of its own.
type startedWriter struct {
	w       io.Writer
	started bool
}

func (s *startedWriter) Write(b []byte) (int, error) {
	s.started = true
	return s.w.Write(b)
}

// Client sends operations to the server listening on a control socket.
type Client struct {
	http *http.Client
}

var _ Operations = (*Client)(nil)

// Dial returns a client of the server of the database at db, after checking
// that one answers there. Every connection, this check's and each
// command's, is to a trusted socket (trustedSocket): the server may stop
// between them and another socket take its place.
func Dial(ctx context.Context, db string) (*Client, error) {
	path := SocketPath(db)
	var d net.Dialer
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		if err := trustedSocket(path, db); err != nil {
			return nil, err
		}
		return d.DialContext(ctx, "unix", path)
	}
	c := &Client{http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: dial}}}
	conn, err := dial(ctx, "", "")
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	conn.Close()
	return c, nil
}

// do sends one request, in as its JSON body unless nil; out receives the JSON answer.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://deputy"+path, body)
	if err != nil {
		return err
	}
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		var e errorResponse
		if json.NewDecoder(res.Body).Decode(&e) != nil || e.Error == "" {
			return fmt.Errorf("control socket: status %d", res.StatusCode)
		}
		return errors.New(e.Error)
	}
	return json.NewDecoder(res.Body).Decode(out)
}

func (c *Client) CreateProgramme(ctx context.Context, in core.NewProgramme) (*core.CreatedProgramme, error) {
	var out createdView
	if err := c.do(ctx, "POST", "/programmes", in, &out); err != nil {
		return nil, err
	}
	return &core.CreatedProgramme{Programme: out.Programme.programme(), APIKey: out.APIKey, UIKey: out.UIKey}, nil
}

func (c *Client) RotateKey(ctx context.Context, programmeID string, kind core.KeyKind, grace time.Duration) (string, error) {
	var out rotateResponse
	err := c.do(ctx, "POST", "/programmes/"+url.PathEscape(programmeID)+"/rotate-key", rotateRequest{Kind: kind, Grace: grace}, &out)
	return out.Key, err
}

func (c *Client) Programme(ctx context.Context, id string) (*core.Programme, error) {
	var out programmeView
	if err := c.do(ctx, "GET", "/programmes/"+url.PathEscape(id), nil, &out); err != nil {
		return nil, err
	}
	return out.programme(), nil
}

// settingsChange is the body of a settings change: the settings it was made
// on (none: replace whatever is there) and the new ones.
type settingsChange struct {
	From *core.ProgrammeSettings
	To   core.ProgrammeSettings
}

func (c *Client) UpdateProgrammeSettings(ctx context.Context, id string, from *core.ProgrammeSettings, set core.ProgrammeSettings) (*core.Programme, error) {
	var out programmeView
	if err := c.do(ctx, "PUT", "/programmes/"+url.PathEscape(id)+"/settings", settingsChange{From: from, To: set}, &out); err != nil {
		return nil, err
	}
	return out.programme(), nil
}

// Backup streams a consistent copy of the running server's database to w and
// returns its size. A copy cut short (the server stopped) is an error.
func (c *Client) Backup(ctx context.Context, w io.Writer) (int64, error) {
	return c.stream(ctx, "/backup", w)
}

// ExportAudit streams a programme's audit log export to w.
func (c *Client) ExportAudit(ctx context.Context, programmeID string, w io.Writer) error {
	_, err := c.stream(ctx, "/programmes/"+url.PathEscape(programmeID)+"/audit", w)
	return err
}

// stream copies the answer to a GET of path to w; an error answer or a
// stream cut short is an error.
func (c *Client) stream(ctx context.Context, path string, w io.Writer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://deputy"+path, nil)
	if err != nil {
		return 0, err
	}
	// A large database takes longer than the client's timeout for small requests.
	hc := *c.http
	hc.Timeout = 0
	res, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("control socket: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		var e errorResponse
		if json.NewDecoder(res.Body).Decode(&e) != nil || e.Error == "" {
			return 0, fmt.Errorf("control socket: %s answered status %d", path, res.StatusCode)
		}
		return 0, errors.New(e.Error)
	}
	n, err := io.Copy(w, res.Body)
	if err != nil {
		return n, fmt.Errorf("control socket: %s: %w", path, err)
	}
	return n, nil
}

func webhookPath(programmeID string, rest ...string) string {
	p := "/programmes/" + url.PathEscape(programmeID) + "/webhooks"
	for _, r := range rest {
		p += "/" + url.PathEscape(r)
	}
	return p
}

func (c *Client) AddWebhook(ctx context.Context, programmeID string, in core.NewWebhook) (*core.CreatedWebhook, error) {
	var out core.CreatedWebhook
	if err := c.do(ctx, "POST", webhookPath(programmeID), in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (c *Client) Webhooks(ctx context.Context, programmeID string) ([]*core.Webhook, error) {
	var out []*core.Webhook
	err := c.do(ctx, "GET", webhookPath(programmeID), nil, &out)
	return out, err
}

func (c *Client) RemoveWebhook(ctx context.Context, programmeID, id string) error {
	return c.do(ctx, "DELETE", webhookPath(programmeID, id), nil, &struct{}{})
}

func (c *Client) RotateWebhookSecret(ctx context.Context, programmeID, id string, overlap time.Duration) (string, error) {
	var out rotateResponse
	err := c.do(ctx, "POST", webhookPath(programmeID, id, "rotate-secret"), rotateSecretRequest{Overlap: overlap}, &out)
	return out.Key, err
}

func (c *Client) WebhookDeliveries(ctx context.Context, programmeID, endpointID string, before uint64, limit int) ([]*core.WebhookDeliveryView, error) {
	var out []*core.WebhookDeliveryView
	err := c.do(ctx, "POST", webhookPath(programmeID, endpointID, "deliveries"), deliveriesRequest{Before: before, Limit: limit}, &out)
	return out, err
}

func (c *Client) RedeliverWebhooks(ctx context.Context, programmeID, endpointID string, r core.Redeliver) (int, error) {
	var out countResponse
	err := c.do(ctx, "POST", webhookPath(programmeID, endpointID, "redeliver"), r, &out)
	return out.Count, err
}

// programme is v as a core.Programme without key hashes.
func (v programmeView) programme() *core.Programme {
	return &core.Programme{ID: v.ID, Name: v.Name, Settings: v.Settings}
}
