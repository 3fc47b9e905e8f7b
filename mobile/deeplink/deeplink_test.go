package deeplink_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/mobile/deeplink"
)

func TestParseConnect(t *testing.T) {
	tests := []struct {
		name    string
		link    string
		want    deeplink.Connect
		wantErr error
	}{
		{"https server", "deputy://connect?server=https%3A%2F%2Fauth.example.com&key=dpk_abc", deeplink.Connect{Server: "https://auth.example.com", Key: "dpk_abc"}, nil},
		{"unescaped server and spaces", "  deputy://connect?server=http://127.0.0.1:8080&key=dpk_abc\n", deeplink.Connect{Server: "http://127.0.0.1:8080", Key: "dpk_abc"}, nil},
		{"path prefix and policy", "deputy://connect?server=https%3A%2F%2Fexample.com%2Fdeputy&key=dpk_x&policy=nist", deeplink.Connect{Server: "https://example.com/deputy", Key: "dpk_x", Policy: "nist"}, nil},
		{"origin", "deputy://connect?server=https://auth.example.com&key=dpk_x&origin=https%3A%2F%2Fexample.com", deeplink.Connect{Server: "https://auth.example.com", Key: "dpk_x", Origin: "https://example.com"}, nil},
		{"http origin", "deputy://connect?server=https://a.example&key=dpk_x&origin=http://a.example", deeplink.Connect{}, deeplink.ErrInvalid},
		{"origin with path", "deputy://connect?server=https://a.example&key=dpk_x&origin=https://a.example/x", deeplink.Connect{}, deeplink.ErrInvalid},
		{"upper-case scheme", "DEPUTY://CONNECT?server=https://a.example&key=dpk_x", deeplink.Connect{Server: "https://a.example", Key: "dpk_x"}, nil},
		{"secret key", "deputy://connect?server=https://a.example&key=dsk_secret", deeplink.Connect{}, deeplink.ErrSecretKey},
		{"secret key in capitals", "deputy://connect?server=https://a.example&key=DSK_secret", deeplink.Connect{}, deeplink.ErrSecretKey},
		{"no key", "deputy://connect?server=https://a.example", deeplink.Connect{}, deeplink.ErrInvalid},
		{"no server", "deputy://connect?key=dpk_x", deeplink.Connect{}, deeplink.ErrInvalid},
		{"http server on a network host", "deputy://connect?server=http%3A%2F%2Fauth.example.com&key=dpk_x", deeplink.Connect{}, deeplink.ErrInvalid},
		{"http server on a private address", "deputy://connect?server=http://192.168.1.7:8080&key=dpk_x", deeplink.Connect{}, deeplink.ErrInvalid},
		{"http server on localhost", "deputy://connect?server=http://localhost:8080&key=dpk_x", deeplink.Connect{Server: "http://localhost:8080", Key: "dpk_x"}, nil},
		{"http server on IPv6 loopback", "deputy://connect?server=http://[::1]:8080&key=dpk_x", deeplink.Connect{Server: "http://[::1]:8080", Key: "dpk_x"}, nil},
		{"ftp server", "deputy://connect?server=ftp://a.example&key=dpk_x", deeplink.Connect{}, deeplink.ErrInvalid},
		{"server with credentials", "deputy://connect?server=https://u:p@a.example&key=dpk_x", deeplink.Connect{}, deeplink.ErrInvalid},
		{"server with query", "deputy://connect?server=https://a.example/%3Fx%3D1&key=dpk_x", deeplink.Connect{}, deeplink.ErrInvalid},
		// The user is asked to check the server address before connecting:
		// it must read as what it is.
		{"server with bidi override", "deputy://connect?server=https://a.example/%E2%80%AEmoc.knab&key=dpk_x", deeplink.Connect{}, deeplink.ErrInvalid},
		{"server with look-alike letter", "deputy://connect?server=https://b%D0%B0nk.example&key=dpk_x", deeplink.Connect{}, deeplink.ErrInvalid},
		{"server with zero-width space", "deputy://connect?server=https://bank.example%E2%80%8B.evil.example&key=dpk_x", deeplink.Connect{}, deeplink.ErrInvalid},
		{"server with C1 control", "deputy://connect?server=https://a.example/%C2%9B2J&key=dpk_x", deeplink.Connect{}, deeplink.ErrInvalid},
		{"international server in its xn-- form", "deputy://connect?server=https://xn--bcher-kva.example&key=dpk_x", deeplink.Connect{Server: "https://xn--bcher-kva.example", Key: "dpk_x"}, nil},
		{"key with space", "deputy://connect?server=https://a.example&key=dpk+x", deeplink.Connect{}, deeplink.ErrInvalid},
		{"unknown policy", "deputy://connect?server=https://a.example&key=dpk_x&policy=lax", deeplink.Connect{}, deeplink.ErrInvalid},
		{"invite link", "deputy://invite?userId=1&code=123456", deeplink.Connect{}, deeplink.ErrNotALink},
		{"web page", "https://a.example/?server=https://a.example&key=dpk_x", deeplink.Connect{}, deeplink.ErrNotALink},
		{"empty", "  ", deeplink.Connect{}, deeplink.ErrNotALink},
		{"too long", "deputy://connect?server=https://a.example&key=" + strings.Repeat("k", 5000), deeplink.Connect{}, deeplink.ErrNotALink},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := deeplink.ParseConnect(tt.link)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestConnectRoundTrip(t *testing.T) {
	c := deeplink.Connect{Server: "https://auth.example.com/deputy", Key: "dpk_Zm9v", Policy: "weavr", Origin: "https://example.com"}
	got, err := deeplink.ParseConnect(c.String())
	require.NoError(t, err)
	assert.Equal(t, c, got)
}

func TestParseInvite(t *testing.T) {
	tests := []struct {
		name    string
		link    string
		want    deeplink.Invite
		wantErr error
	}{
		{"deputy link", "deputy://invite?userId=1234&code=123456", deeplink.Invite{UserID: "1234", Code: "123456"}, nil},
		{"parameters in the other order", "deputy://invite?code=654321&userId=7", deeplink.Invite{UserID: "7", Code: "654321"}, nil},
		{"embedder's page", "https://bank.example/accept?userId=42&code=000111", deeplink.Invite{UserID: "42", Code: "000111"}, nil},
		{"long code", "deputy://invite?userId=5&code=" + longCode, deeplink.Invite{UserID: "5", Code: longCode}, nil},
		{"short code", "deputy://invite?userId=1&code=12345", deeplink.Invite{}, deeplink.ErrInvalid},
		{"code too long", "deputy://invite?userId=1&code=" + strings.Repeat("a", 65), deeplink.Invite{}, deeplink.ErrInvalid},
		{"padding in code", "deputy://invite?userId=1&code=" + longCode[:42] + "%3D", deeplink.Invite{}, deeplink.ErrInvalid},
		{"space in code", "deputy://invite?userId=1&code=123+456", deeplink.Invite{}, deeplink.ErrInvalid},
		{"user id not digits", "deputy://invite?userId=../x&code=123456", deeplink.Invite{}, deeplink.ErrInvalid},
		{"no user id", "deputy://invite?code=123456", deeplink.Invite{}, deeplink.ErrInvalid},
		{"page without parameters", "https://bank.example/", deeplink.Invite{}, deeplink.ErrNotALink},
		{"connect link", "deputy://connect?server=https://a.example&key=dpk_x", deeplink.Invite{}, deeplink.ErrNotALink},
		{"plain text", "123456", deeplink.Invite{}, deeplink.ErrNotALink},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := deeplink.ParseInvite(tt.link)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// longCode has the shape of a real invite code: 256 bits, base64url.
const longCode = "q0-Zx_9aB3cD4eF5gH6iJ7kL8mN9oP0qR1sT2uV3wX4"

func TestInviteRoundTrip(t *testing.T) {
	for _, code := range []string{"123456", longCode} {
		i := deeplink.Invite{UserID: "99", Code: code}
		got, err := deeplink.ParseInvite(i.String())
		require.NoError(t, err)
		assert.Equal(t, i, got)
		assert.Equal(t, "deputy://invite?code="+code+"&userId=99", i.String())
	}
}

func TestCheckUIKeyMessage(t *testing.T) {
	err := deeplink.CheckUIKey("dsk_live_123")
	require.ErrorIs(t, err, deeplink.ErrSecretKey)
	assert.Contains(t, err.Error(), "secret API key")
	assert.Contains(t, err.Error(), "public UI key")
	assert.NotContains(t, err.Error(), "dsk_live_123", "the refused key is never echoed")
}

// FuzzParse feeds arbitrary text to both parsers: they never panic, and what
// they accept is valid and round-trips.
func FuzzParse(f *testing.F) {
	f.Add("deputy://connect?server=https%3A%2F%2Fauth.example.com&key=dpk_abc")
	f.Add("deputy://invite?userId=1234&code=123456")
	f.Add("https://bank.example/accept?userId=42&code=000111")
	f.Add("deputy://invite?userId=5&code=" + longCode)
	f.Add("deputy://connect?server=https://a.example&key=dsk_x")
	f.Fuzz(func(t *testing.T, link string) {
		if c, err := deeplink.ParseConnect(link); err == nil {
			if err := c.Validate(); err != nil {
				t.Fatalf("accepted %q but Validate says %v", link, err)
			}
			if strings.HasPrefix(strings.ToLower(c.Key), "dsk_") {
				t.Fatalf("accepted a secret key from %q", link)
			}
			again, err := deeplink.ParseConnect(c.String())
			if err != nil || again != c {
				t.Fatalf("round trip of %+v: got %+v, %v", c, again, err)
			}
		} else if !errors.Is(err, deeplink.ErrNotALink) && !errors.Is(err, deeplink.ErrInvalid) && !errors.Is(err, deeplink.ErrSecretKey) {
			t.Fatalf("unclassified error %v", err)
		}
		if i, err := deeplink.ParseInvite(link); err == nil {
			if deeplink.CheckUserID(i.UserID) != nil || deeplink.CheckInviteCode(i.Code) != nil {
				t.Fatalf("accepted %q with an invalid user id or code %+v", link, i)
			}
			again, err := deeplink.ParseInvite(i.String())
			if err != nil || again != i {
				t.Fatalf("round trip of %+v: got %+v, %v", i, again, err)
			}
		}
	})
}
