package core_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

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
