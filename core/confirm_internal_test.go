package core

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// A confirmation SMS names each payee by the start of its name and the end
// of its account, counted in characters, not bytes.
func TestSMSListShowsTheAccountsEnd(t *testing.T) {
	payee := func(name, account string) *Resource {
		return &Resource{Summary: ResourceSummary{Amount: Amount{Currency: "GBP", Value: 1250}, PayeeName: name, PayeeAccount: account}}
	}
	assert.Equal(t, "12.50 GBP to Alice Example (…6819); 12.50 GBP to Alice Example (…0001)",
		smsList([]*Resource{payee("Alice Example", "GB29NWBK60161331926819"), payee("Alice Example", "GB29NWBK60161331920001")}))
	assert.Equal(t, "12.50 GBP to Bob (1234)", smsList([]*Resource{payee("Bob", "1234")}), "a short account whole")
	assert.Equal(t, "12.50 GBP to Bob", smsList([]*Resource{payee("Bob", "")}))
	assert.Equal(t, "12.50 GBP to Zoë (…ÅÄÖ9)", smsList([]*Resource{payee("Zoë", "SE-ÅÄÖ9")}))
}
