package command

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/control"
	"github.com/deputyhq/deputy/internal/escape"
)

// webhooksCommand is `deputy programme webhooks`: a programme's webhook
// endpoints and their deliveries, through the running server when there is one.
func webhooksCommand() *cli.Command {
	idFlag := func() cli.Flag { return required(&cli.StringFlag{Name: "id", Usage: "programme id"}) }
	hookFlag := func() cli.Flag { return required(&cli.StringFlag{Name: "webhook", Usage: "webhook id (wh_...)"}) }
	jsonFlag := func() cli.Flag { return &cli.BoolFlag{Name: "json", Usage: "print JSON"} }
	return &cli.Command{
		Name:  "webhooks",
		Usage: "manage a programme's webhook endpoints and their deliveries",
		Commands: []*cli.Command{
			{
				Name:  "add",
				Usage: "add an endpoint and print its signing secret (shown once)",
				Flags: []cli.Flag{dbFlag("deputy.db"), idFlag(),
					required(&cli.StringFlag{Name: "url", Usage: "https URL; each event's path (/login/watch ...) is appended"}),
					&cli.StringFlag{Name: "events", Usage: "comma-separated event types (default: every one): " + strings.Join(eventNames(), ", ")},
					&cli.BoolFlag{Name: "allow-private", Usage: "allow loopback and private addresses, and http (local development and tests only)"},
					jsonFlag()},
				Action: withOperations(func(ctx context.Context, cmd *cli.Command, ops control.Operations) error {
					var events []string
					for ev := range strings.SplitSeq(cmd.String("events"), ",") {
						if ev = strings.TrimSpace(ev); ev != "" {
							events = append(events, ev)
						}
					}
					out, err := ops.AddWebhook(ctx, cmd.String("id"), core.NewWebhook{URL: cmd.String("url"), Events: events, AllowPrivate: cmd.Bool("allow-private")})
					if err != nil {
						return err
					}
					w := cmd.Root().Writer
					if cmd.Bool("json") {
						return json.NewEncoder(w).Encode(map[string]any{"webhook": webhookJSON(out.Webhook), "secret": out.Secret})
					}
					_, err = fmt.Fprintf(w, "Webhook %s added for %s. Its signing secret is shown once:\n  %s\n", out.Webhook.ID, out.Webhook.URL, out.Secret)
					return err
				}),
			},
			{
				Name:  "list",
				Usage: "list a programme's endpoints",
				Flags: []cli.Flag{dbFlag("deputy.db"), idFlag(), jsonFlag()},
				Action: withOperations(func(ctx context.Context, cmd *cli.Command, ops control.Operations) error {
					hooks, err := ops.Webhooks(ctx, cmd.String("id"))
					if err != nil {
						return err
					}
					return printWebhooks(cmd.Root().Writer, hooks, cmd.Bool("json"))
				}),
			},
			{
				Name:  "remove",
				Usage: "remove an endpoint (its pending deliveries fail)",
				Flags: []cli.Flag{dbFlag("deputy.db"), idFlag(), hookFlag()},
				Action: withOperations(func(ctx context.Context, cmd *cli.Command, ops control.Operations) error {
					return ops.RemoveWebhook(ctx, cmd.String("id"), cmd.String("webhook"))
				}),
			},
			{
				Name:  "rotate-secret",
				Usage: "give an endpoint a new signing secret (shown once); the old one also signs for --overlap. Enables a disabled endpoint",
				Flags: []cli.Flag{dbFlag("deputy.db"), idFlag(), hookFlag(),
					&cli.DurationFlag{Name: "overlap", Value: 24 * time.Hour, Usage: "how long the old secret keeps signing too (0: not at all; at most 168h)"},
					jsonFlag()},
				Action: withOperations(func(ctx context.Context, cmd *cli.Command, ops control.Operations) error {
					secret, err := ops.RotateWebhookSecret(ctx, cmd.String("id"), cmd.String("webhook"), cmd.Duration("overlap"))
					if err != nil {
						return err
					}
					w := cmd.Root().Writer
					if cmd.Bool("json") {
						return json.NewEncoder(w).Encode(map[string]string{"webhook": cmd.String("webhook"), "secret": secret})
					}
					_, err = fmt.Fprintf(w, "New signing secret of webhook %s (shown once):\n  %s\n", cmd.String("webhook"), secret)
					return err
				}),
			},
			{
				Name:  "deliveries",
				Usage: "list an endpoint's deliveries, newest first, with their attempts",
				Flags: []cli.Flag{dbFlag("deputy.db"), idFlag(), hookFlag(),
					&cli.IntFlag{Name: "limit", Value: 50, Usage: "how many"},
					&cli.Uint64Flag{Name: "before", Usage: "only deliveries older than this one (its seq)"},
					jsonFlag()},
				Action: withOperations(func(ctx context.Context, cmd *cli.Command, ops control.Operations) error {
					ds, err := ops.WebhookDeliveries(ctx, cmd.String("id"), cmd.String("webhook"), cmd.Uint64("before"), cmd.Int("limit"))
					if err != nil {
						return err
					}
					return printDeliveries(cmd.Root().Writer, ds, cmd.Bool("json"))
				}),
			},
			{
				Name:  "redeliver",
				Usage: "send again one event (--event) or every event whose delivery failed since a time (--since)",
				Flags: []cli.Flag{dbFlag("deputy.db"), idFlag(), hookFlag(),
					&cli.StringFlag{Name: "event", Usage: "event id (evt_..., the call-ref and webhook-id)"},
					&cli.TimestampFlag{Name: "since", Usage: "RFC 3339 time, e.g. 2026-03-14T09:00:00Z", Config: cli.TimestampConfig{Layouts: []string{time.RFC3339}}},
					jsonFlag()},
				Action: withOperations(func(ctx context.Context, cmd *cli.Command, ops control.Operations) error {
					if (cmd.String("event") == "") == cmd.Timestamp("since").IsZero() {
						return fmt.Errorf("give either --event or --since")
					}
					n, err := ops.RedeliverWebhooks(ctx, cmd.String("id"), cmd.String("webhook"), core.Redeliver{EventID: cmd.String("event"), Since: cmd.Timestamp("since")})
					if err != nil {
						return err
					}
					w := cmd.Root().Writer
					if cmd.Bool("json") {
						return json.NewEncoder(w).Encode(map[string]int{"queued": n})
					}
					_, err = fmt.Fprintf(w, "%d deliveries queued again\n", n)
					return err
				}),
			},
			webhookListenCommand(),
		},
	}
}

// withOperations runs do with the database's operations (openOperations).
func withOperations(do func(ctx context.Context, cmd *cli.Command, ops control.Operations) error) cli.ActionFunc {
	return func(ctx context.Context, cmd *cli.Command) error {
		ops, done, err := openOperations(ctx, cmd.String("db"), false)
		if err != nil {
			return err
		}
		defer done()
		return do(ctx, cmd, ops)
	}
}

func eventNames() []string {
	var names []string
	for _, t := range core.WebhookEventTypes {
		names = append(names, t.Name)
	}
	return names
}

// webhookJSON is an endpoint in the CLI's JSON style. An endpoint that
// takes every event (none named) has allEvents, and the events there are
// now as its events: it will take those added later too.
func webhookJSON(h *core.Webhook) map[string]any {
	events := h.Events
	if len(events) == 0 {
		events = eventNames()
	}
	return map[string]any{"id": h.ID, "programmeId": h.ProgrammeID, "url": h.URL, "events": events, "allEvents": len(h.Events) == 0,
		"allowPrivate": h.AllowPrivate, "disabled": h.Disabled, "disabledReason": h.DisabledReason, "createdAt": h.CreatedAt}
}

func printWebhooks(w io.Writer, hooks []*core.Webhook, asJSON bool) error {
	if asJSON {
		out := make([]map[string]any, len(hooks))
		for i, h := range hooks {
			out[i] = webhookJSON(h)
		}
		return json.NewEncoder(w).Encode(out)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tURL\tEVENTS\tPRIVATE ADDRESSES\tSTATE")
	for _, h := range hooks {
		events, private, state := "all", "refused", "enabled"
		if len(h.Events) > 0 {
			events = strings.Join(h.Events, ",")
		}
		if h.AllowPrivate {
			private = "allowed"
		}
		if h.Disabled {
			state = "disabled: " + h.DisabledReason
		}
		// An endpoint stored before URLs had to be text may hold characters
		// that drive the terminal or show another host than the one used.
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", h.ID, escape.NonPrinting(h.URL), events, private, escape.NonPrinting(state))
	}
	return tw.Flush()
}

func printDeliveries(w io.Writer, ds []*core.WebhookDeliveryView, asJSON bool) error {
	if asJSON {
		out := make([]map[string]any, len(ds))
		for i, d := range ds {
			out[i] = map[string]any{"seq": d.Seq, "event": d.EventID, "type": d.EventType, "user": d.Subject, "state": d.State,
				"attempts": d.Attempts, "lastStatus": d.LastStatus, "nextAt": d.NextAt, "createdAt": d.CreatedAt, "doneAt": d.DoneAt, "log": d.Log}
		}
		return json.NewEncoder(w).Encode(out)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tEVENT\tTYPE\tSTATE\tATTEMPTS\tLAST\tNEXT")
	for _, d := range ds {
		next := "-"
		if !d.NextAt.IsZero() {
			next = d.NextAt.UTC().Format(time.RFC3339)
		}
		last := fmt.Sprint(d.LastStatus)
		if n := len(d.Log); n > 0 && d.Log[n-1].Error != "" {
			last = d.Log[n-1].Error
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", d.Seq, d.EventID, d.EventType, d.State, d.Attempts, last, next)
	}
	return tw.Flush()
}
