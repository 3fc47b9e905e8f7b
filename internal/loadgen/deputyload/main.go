// Command deputyload loads a running `deputy serve` over HTTP from a process
// of its own, so that the server's figures do not include the load
// generator's work: BenchmarkExternalLoad (`make bench-external`) builds and
// runs it. It makes -requests operations of one kind from -clients
// concurrent clients and prints the run's loadgen.Result as JSON.
//
//	deputyload -url URL -api-key KEY -op create -token ADMIN_TOKEN -clients 32 -requests 5000
//	deputyload -url URL -api-key KEY -op stepup -tokens FILE -per-session 9 -clients 64 -requests 2000
//	deputyload -url URL -api-key KEY -op login -email E -password P -clients 200 -requests 600
//
// The operations:
//   - create: POST /multi/users by a stepped-up admin (-token), users
//     numbered from -first;
//   - stepup: an SMS step-up, POST /multi/stepup/challenges/otp/SMS then its
//     verify with the sandbox code, on sessions read from -tokens (one a
//     line), each used at most -per-session times and by one client at a time;
//   - login: POST /multi/login_with_password, each from its own client
//     address in X-Forwarded-For (numbered from -first), which the server
//     believes when started with --trusted-proxies 127.0.0.1: a load of
//     sign-ins from one address would meet its rate limit.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/deputyhq/deputy/internal/loadgen"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "deputyload:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("deputyload", flag.ContinueOnError)
	var (
		base       = fs.String("url", "", "base URL of the server (http://127.0.0.1:8080)")
		apiKey     = fs.String("api-key", "", "the programme's secret api key")
		op         = fs.String("op", "", "what to load: create, stepup or login")
		clients    = fs.Int("clients", 32, "requests in flight at once")
		requests   = fs.Int("requests", 1000, "operations in all")
		first      = fs.Int("first", 0, "number of the first created user or client address")
		token      = fs.String("token", "", "create: a stepped-up admin's token")
		tokens     = fs.String("tokens", "", "stepup: file of session tokens, one a line")
		perSession = fs.Int("per-session", 1, "stepup: most step-ups on one session")
		email      = fs.String("email", "", "login: the user's email")
		pw         = fs.String("password", "", "login: the user's password")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *base == "" || *apiKey == "" {
		return errors.New("-url and -api-key are required")
	}
	c := newClient(*base, *apiKey, *clients)
	var do func(ctx context.Context, worker, seq int) error
	switch *op {
	case "create":
		if *token == "" {
			return errors.New("-op create needs -token")
		}
		do = func(ctx context.Context, _, seq int) error {
			n := strconv.Itoa(*first + seq)
			body := `{"name":"User","surname":"` + n + `","email":"user` + n + `@load.test","roles":["CARD_ASSIGNEE"]}`
			return c.post(ctx, "/multi/users", *token, "", body, http.StatusOK)
		}
	case "stepup":
		sessions, err := sessionPool(*tokens, *perSession, *requests)
		if err != nil {
			return err
		}
		do = func(ctx context.Context, _, _ int) error {
			s := <-sessions
			defer func() {
				if s.left--; s.left > 0 {
					sessions <- s
				}
			}()
			if err := c.post(ctx, "/multi/stepup/challenges/otp/SMS", s.token, "", "", http.StatusNoContent); err != nil {
				return err
			}
			return c.post(ctx, "/multi/stepup/challenges/otp/SMS/verify", s.token, "", `{"verificationCode":"123456"}`, http.StatusNoContent)
		}
	case "login":
		if *email == "" || *pw == "" {
			return errors.New("-op login needs -email and -password")
		}
		body, err := json.Marshal(map[string]any{"email": *email, "password": map[string]string{"value": *pw}})
		if err != nil {
			return err
		}
		do = func(ctx context.Context, _, seq int) error {
			return c.post(ctx, "/multi/login_with_password", "", clientAddress(*first+seq), string(body), http.StatusOK)
		}
	default:
		return fmt.Errorf("-op %q: want create, stepup or login", *op)
	}
	res := loadgen.Run(context.Background(), loadgen.Config{Workers: *clients, Requests: *requests, Do: do})
	return json.NewEncoder(stdout).Encode(res)
}

// session is a signed-in session with step-ups left to make.
type session struct {
	token string
	left  int
}

// sessionPool reads the tokens file into a queue of sessions enough for n
// step-ups, each session to be taken by one client at a time.
func sessionPool(file string, perSession, n int) (chan *session, error) {
	if file == "" || perSession < 1 {
		return nil, errors.New("-op stepup needs -tokens and -per-session of at least 1")
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var all []*session
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if t := strings.TrimSpace(sc.Text()); t != "" {
			all = append(all, &session{token: t, left: perSession})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(all)*perSession < n {
		return nil, fmt.Errorf("%d sessions of %d step-ups each are too few for %d", len(all), perSession, n)
	}
	q := make(chan *session, len(all))
	for _, s := range all {
		q <- s
	}
	return q, nil
}

// clientAddress is the n-th of 16 million addresses in 10.0.0.0/8.
func clientAddress(n int) string {
	return fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255)
}

// client sends the API's requests with one kept-alive connection per client.
type client struct {
	base, apiKey string
	http         *http.Client
}

func newClient(base, apiKey string, clients int) *client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = clients, clients
	return &client{base: strings.TrimSuffix(base, "/"), apiKey: apiKey, http: &http.Client{Transport: tr, Timeout: time.Minute}}
}

// post sends body (none when "") with the api key, the token and the client
// address when not "", and fails unless the answer has status want.
func (c *client) post(ctx context.Context, path, token, forwardedFor, body string, want int) error {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("api-key", c.apiKey)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if forwardedFor != "" {
		req.Header.Set("X-Forwarded-For", forwardedFor)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != want {
		return fmt.Errorf("POST %s: status %d, want %d: %s", path, res.StatusCode, want, bytes.TrimSpace(out))
	}
	return nil
}
