package bfstatus

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBox_Write(t *testing.T) {
	b := &box{head: []string{"Table", "Rows"}, right: []bool{false, true}}
	b.add("users", "1,250")
	b.add("zoë", "7")
	var sb strings.Builder
	if err := b.write(&sb); err != nil {
		t.Fatal(err)
	}
	want := `+-------+-------+
| Table | Rows  |
+-------+-------+
| users | 1,250 |
| zoë   |     7 |
+-------+-------+
`
	if diff := cmp.Diff(want, sb.String()); diff != "" {
		t.Errorf("write() mismatch (-want +got):\n%s", diff)
	}
}

func TestFormats(t *testing.T) {
	tests := []struct{ got, want string }{
		{count(0), "0"},
		{count(999), "999"},
		{count(1000), "1,000"},
		{count(1234567), "1,234,567"},
		{count(-45000), "-45,000"},
		{plural(1, "table"), "1 table"},
		{plural(12000, "row"), "12,000 rows"},
		{human(400 * time.Millisecond), "0.4s"},
		{human(45 * time.Second), "45s"},
		{human(3 * time.Minute), "3m"},
		{human(200 * time.Second), "3m20s"},
		{human(125 * time.Minute), "2h5m"},
		{ago(10 * time.Second), "just now"},
		{ago(12 * time.Minute), "12 minutes ago"},
		{ago(90 * time.Minute), "1 hour ago"},
		{ago(72 * time.Hour), "3 days ago"},
		{shorten("email, name", 40), "email, name"},
		{shorten("abcdef", 4), "abc…"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestProgName(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "bf-status"},
		{[]string{"--prog", "bf-pull", "guard"}, "bf-pull"},
		{[]string{"guard", "--prog=bf-pull"}, "bf-pull"},
		{[]string{"--prog", "x y"}, "bf-status"},
		{[]string{"--", "--prog", "bf-pull"}, "bf-status"},
	}
	for _, tt := range tests {
		if got := progName(tt.args); got != tt.want {
			t.Errorf("progName(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}
