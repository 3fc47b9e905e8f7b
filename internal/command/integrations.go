package command

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/kycwebhook"
	"github.com/deputyhq/deputy/sender/smsgateway"
	"github.com/deputyhq/deputy/sender/smtpmail"
)

// senderFlags configure the SMTP server that emails go through and the HTTP
// SMS gateway that one-time codes go through, outside sandbox mode. Secrets
// are better given in the environment than on the command line, which other
// users of the machine can read.
func senderFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "smtp-host", Usage: "SMTP server that emails go through (required outside sandbox mode)", Sources: env("smtp-host")},
		&cli.IntFlag{Name: "smtp-port", Usage: "SMTP port (default by --smtp-tls: 587, 465 or 25)", Sources: env("smtp-port")},
		&cli.StringFlag{Name: "smtp-tls", Value: string(smtpmail.StartTLS), Usage: "SMTP encryption: starttls (required STARTTLS), tls (implicit TLS) or none (a relay on loopback only)", Sources: env("smtp-tls")},
		&cli.StringFlag{Name: "smtp-from", Usage: "the address emails come from, e.g. no-reply@example.com (required with --smtp-host)", Sources: env("smtp-from")},
		&cli.StringFlag{Name: "smtp-username", Usage: "SMTP user name (with --smtp-password)", Sources: env("smtp-username")},
		&cli.StringFlag{Name: "smtp-password", Usage: "SMTP password (better: DEPUTY_SMTP_PASSWORD)", Sources: env("smtp-password")},
		&cli.StringFlag{Name: "sms-gateway-url", Usage: "HTTP(S) URL that receives a form POST per SMS (required outside sandbox mode)", Sources: env("sms-gateway-url")},
		&cli.StringFlag{Name: "sms-gateway-username", Usage: "HTTP basic-auth user of the gateway (with --sms-gateway-password)", Sources: env("sms-gateway-username")},
		&cli.StringFlag{Name: "sms-gateway-password", Usage: "HTTP basic-auth password of the gateway (better: DEPUTY_SMS_GATEWAY_PASSWORD)", Sources: env("sms-gateway-password")},
		&cli.StringFlag{Name: "sms-gateway-token", Usage: "bearer token of the gateway (better: DEPUTY_SMS_GATEWAY_TOKEN)", Sources: env("sms-gateway-token")},
		&cli.StringFlag{Name: "sms-from", Usage: "sender id or number of the SMS", Sources: env("sms-from")},
		&cli.StringFlag{Name: "sms-gateway-fields", Value: "To,From,Body", Usage: "names of the form's recipient, sender and text fields, comma-separated", Sources: env("sms-gateway-fields")},
	}
}

// sendersFrom builds the email and SMS senders the flags describe; both are nil
// when none of their flags is set.
func sendersFrom(cmd *cli.Command) (core.EmailSender, core.SMSSender, error) {
	var (
		email core.EmailSender
		sms   core.SMSSender
	)
	if cmd.String("smtp-host") != "" {
		s, err := smtpmail.New(smtpmail.Config{
			Host: cmd.String("smtp-host"), Port: cmd.Int("smtp-port"), TLS: smtpmail.TLSMode(cmd.String("smtp-tls")),
			From: cmd.String("smtp-from"), Username: cmd.String("smtp-username"), Password: cmd.String("smtp-password"),
		})
		if err != nil {
			return nil, nil, fmt.Errorf("--smtp-*: %w", err)
		}
		email = s
	}
	if cmd.String("sms-gateway-url") != "" {
		fields := strings.Split(cmd.String("sms-gateway-fields"), ",")
		if len(fields) != 3 || slices.ContainsFunc(fields, func(f string) bool { return strings.TrimSpace(f) == "" }) {
			return nil, nil, fmt.Errorf("--sms-gateway-fields %q: want three names, recipient,sender,text (e.g. To,From,Body)", cmd.String("sms-gateway-fields"))
		}
		s, err := smsgateway.New(smsgateway.Config{
			URL: cmd.String("sms-gateway-url"), From: cmd.String("sms-from"),
			Username: cmd.String("sms-gateway-username"), Password: cmd.String("sms-gateway-password"), BearerToken: cmd.String("sms-gateway-token"),
			ToField: strings.TrimSpace(fields[0]), FromField: strings.TrimSpace(fields[1]), TextField: strings.TrimSpace(fields[2]),
		})
		if err != nil {
			return nil, nil, fmt.Errorf("--sms-gateway-*: %w", err)
		}
		sms = s
	}
	return email, sms, nil
}

// kycFlags configure the KYC service that checks authorised users: Deputy
// sends it each case and takes its signed decisions at POST /multi/kyc/callback.
func kycFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "kyc-webhook-url", Usage: "HTTP(S) URL of the KYC service that receives each case, signed (none: KYC is not offered outside sandbox mode)", Sources: env("kyc-webhook-url")},
		&cli.StringFlag{Name: "kyc-webhook-secret", Usage: "secret shared with the KYC service, at least 32 characters: signs the cases and verifies its decisions (better: DEPUTY_KYC_WEBHOOK_SECRET)", Sources: env("kyc-webhook-secret")},
	}
}

// kycFrom builds the KYC provider the flags describe (nil when none is
// configured) and returns the secret that verifies its decisions.
func kycFrom(cmd *cli.Command) (core.KYCProvider, []byte, error) {
	hook, secret := cmd.String("kyc-webhook-url"), []byte(cmd.String("kyc-webhook-secret"))
	if hook == "" {
		if len(secret) > 0 {
			return nil, nil, errors.New("--kyc-webhook-secret needs --kyc-webhook-url")
		}
		return nil, nil, nil
	}
	p, err := kycwebhook.New(kycwebhook.Config{URL: hook, Secret: secret})
	if err != nil {
		return nil, nil, fmt.Errorf("--kyc-webhook-*: %w", err)
	}
	return p, secret, nil
}

// errNoSenders explains what serving outside sandbox mode needs.
func errNoSenders(email core.EmailSender, sms core.SMSSender) error {
	var missing []string
	if email == nil {
		missing = append(missing, "an SMTP server for email (--smtp-host and --smtp-from)")
	}
	if sms == nil {
		missing = append(missing, "an SMS gateway for one-time codes (--sms-gateway-url)")
	}
	return errors.New("outside sandbox mode Deputy sends real messages and needs " + strings.Join(missing, " and ") +
		"; or run `deputy serve --sandbox`, where every code is 123456 and messages stay in an outbox")
}
