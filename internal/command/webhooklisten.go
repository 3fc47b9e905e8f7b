package command

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/urfave/cli/v3"

	"github.com/deputyhq/deputy/server/client"
)

// listenBodyLimit bounds what the development receiver reads of a delivery.
const listenBodyLimit = 1 << 20

// webhookListenCommand is `deputy programme webhooks listen`: a receiver for
// local development that checks each delivery's signatures as an embedder's
// backend must (client.WebhookVerifier) and prints what it accepted.
func webhookListenCommand() *cli.Command {
	return &cli.Command{
		Name: "listen",
		Usage: "receive webhooks on a local address, verify their signatures and print each accepted event as " +
			"`path call-ref published-timestamp signature-v2 body` (development and tests)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8099", Usage: "address to listen on"},
			&cli.StringSliceFlag{Name: "secret", Usage: "the endpoint's signing secret (whsec_...); repeat during a rotation", Sources: env("webhook-secret")},
			&cli.StringFlag{Name: "api-key", Usage: "the programme's secret api key, to check Weavr's signature-v2", Sources: env("api-key")},
			&cli.IntFlag{Name: "count", Usage: "exit after this many accepted events (0: run until interrupted)"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			v := client.WebhookVerifier{APIKey: cmd.String("api-key"), Secrets: cmd.StringSlice("secret")}
			if v.APIKey == "" && len(v.Secrets) == 0 {
				return errors.New("give --secret or --api-key (or both) to verify deliveries with")
			}
			if cmd.Int("count") < 0 {
				return fmt.Errorf("--count %d: want 0 or more", cmd.Int("count"))
			}
			ln, err := net.Listen("tcp", cmd.String("addr"))
			if err != nil {
				return fmt.Errorf("--addr: %w", err)
			}
			r := &webhookReceiver{verifier: v, out: cmd.Root().Writer, errs: cmd.Root().ErrWriter, left: cmd.Int("count"), done: make(chan struct{})}
			return r.serve(ctx, ln)
		},
	}
}

// printedHeaders are the headers the event line prints after the path.
var printedHeaders = []string{"call-ref", "published-timestamp", "signature-v2"}

// plainField reports whether s can be one field of the event line: valid
// UTF-8 without spaces, control or other non-printing characters.
func plainField(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, func(c rune) bool { return c <= ' ' || !unicode.IsPrint(c) })
}

// refuse answers 400 and says why on the error output, one line.
func (r *webhookReceiver) refuse(w http.ResponseWriter, req *http.Request, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.errs, "refused %s "+format+"\n", append([]any{req.Method}, args...)...)
	http.Error(w, "not an event", http.StatusBadRequest)
}

// webhookReceiver is the listen command's HTTP handler.
type webhookReceiver struct {
	verifier  client.WebhookVerifier
	out, errs io.Writer

	mu   sync.Mutex
	left int // accepted events until done; 0 runs for ever
	done chan struct{}
}

func (r *webhookReceiver) serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	failed := make(chan error, 1)
	go func() { failed <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case <-r.done:
	case err := <-failed:
		return err
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown) // answers the last delivery before exiting
}

func (r *webhookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	// The signatures do not cover the path, nor, with --secret alone, the
	// headers of Weavr's signature: a delivery replayed to a path, or with
	// such a header, holding a space, a newline or a terminal escape would
	// verify, and print a forged event line or the escape.
	if !plainField(req.URL.Path) {
		r.refuse(w, req, "%q: not an event's path", req.URL.Path)
		return
	}
	for _, name := range printedHeaders {
		if v := req.Header.Get(name); !plainField(v) {
			r.refuse(w, req, "%s: header %s %q is not an event's", req.URL.Path, name, v)
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, listenBodyLimit))
	if err == nil {
		err = r.verifier.Verify(req.Header, body)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		fmt.Fprintf(r.errs, "refused %s %s: %v\n", req.Method, req.URL.Path, err)
		http.Error(w, "signature does not verify", http.StatusUnauthorized)
		return
	}
	select {
	case <-r.done:
		http.Error(w, "receiver stopping", http.StatusServiceUnavailable) // not counted: Deputy sends it again
		return
	default:
	}
	h := req.Header
	fmt.Fprintf(r.out, "%s %s %s %s %s\n", req.URL.Path, h.Get("call-ref"), h.Get("published-timestamp"), h.Get("signature-v2"), body)
	w.WriteHeader(http.StatusNoContent)
	if r.left > 0 {
		if r.left--; r.left == 0 {
			close(r.done)
		}
	}
}
