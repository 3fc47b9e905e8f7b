package core_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

func TestMatchesSearch(t *testing.T) {
	u := &core.User{Name: "Grace", Surname: "Hopper", Email: "grace@navy.test", Tag: "cobol"}
	for _, tc := range []struct {
		q    string
		want bool
	}{
		{"grace", true}, {"HOPP", true}, {"grace hopper", true}, {"ce Ho", true},
		{"navy.test", true}, {"COBOL", true}, {" hopper ", true},
		{"grace@navy.test", true}, {"ada", false}, {"hopper grace", false},
	} {
		assert.Equal(t, tc.want, core.MatchesSearch(u, tc.q), "MatchesSearch(%q)", tc.q)
	}
}

// FuzzSearchFilter: the stores' pre-filter never drops a user the search
// matches, whatever the fields and the query (escaped characters, spaces
// inside a full name, non-ASCII case), and it drops those that contain no
// piece of the query.
func FuzzSearchFilter(f *testing.F) {
	for _, seed := range [][5]string{
		{"Grace", "Hopper", "grace@navy.test", "cobol", "ce ho"},
		{"Zoë", "Ünal", "zoe@x.test", "a<b&c", "ZOË ÜN"},
		{"Ann \"Q\"", "O'Neil", "ann@x.test", "tab\there", "\"q\" o'n"},
		{"İlker", "Straße", "i@x.test", "\u2028", "i̇lker"},
		{"Bob", "Ray", "bob@x.test", "x\\y", "b\\"},
		{"Al", "Lee", "al@x.test", "", "zz"},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3], seed[4])
	}
	f.Fuzz(func(t *testing.T, name, surname, email, tag, q string) {
		u := &core.User{ID: "1", Name: name, Surname: surname, Email: email, Tag: tag}
		data, err := json.Marshal(u)
		require.NoError(t, err)
		var stored core.User // what a store decodes: invalid UTF-8 becomes U+FFFD
		require.NoError(t, json.Unmarshal(data, &stored))
		if core.MatchesSearch(&stored, q) {
			assert.True(t, core.NewSearchFilter(q).MayMatch(data), "dropped a match: %s / %q", data, q)
		}
	})
}

func TestSearchFilterDrops(t *testing.T) {
	data, err := json.Marshal(&core.User{ID: "1", Name: "Grace", Surname: "Hopper", Email: "grace@navy.test", Tag: "cobol"})
	require.NoError(t, err)
	for q, want := range map[string]bool{"ada": false, "zz top": false, "grace": true, "HOPPER gr": true, "a&b": true} {
		assert.Equal(t, want, core.NewSearchFilter(q).MayMatch(data), q)
	}
}
