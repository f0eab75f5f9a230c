package scan

import (
	"strings"
	"testing"
)

func TestValueKind(t *testing.T) {
	tests := []struct {
		v, want string
	}{
		{"alice@example.com", KindEmail},
		{"o'connor@x.example", KindEmail},
		{"Mixed.Case+tag@Sub.Example.ORG", KindEmail},
		{"x@yourcompanyxcom", ""},
		{"not an @ email", ""},
		{"10.1.2.3", KindIP},
		{"2001:db8::1", KindIP},
		{"::1", KindIP},
		{"fe80::1%eth0", KindIP},
		{"1.2.3", ""},
		{"999.1.1.1", ""},
		{"12:30:00", ""},
		{"aa:bb:cc:dd:ee:ff", ""},
		{"4111 1111 1111 1111", KindCard},
		{"4111-1111-1111-1111", KindCard},
		{"5500005555555559", KindCard},
		{"4111111111111112", ""}, // Luhn fails
		{"0000000000000000", ""},
		{"+49 30 1234567", KindPhone},
		{"+1 (555) 0123456", KindPhone},
		{"(0)89-1234567", KindPhone},
		{"0171 1234567", KindPhone},
		{"030/1234567", KindPhone},
		{"01711234567", KindPhone},
		{"2024-01-15", ""},
		{"078-05-1120", ""},
		{"15.01.2024", ""},
		{"1234567.89", ""},
		{"12345678", ""},
		{"ORD-000123", ""},
		{"01234", ""},
		{"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", KindToken},
		{"hello world", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got := valueKind(tt.v)
		if got != tt.want {
			t.Errorf("valueKind(%q) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestContainedKind(t *testing.T) {
	for v, want := range map[string]string{
		`{"customer": {"email": "bob@example.org"}}`:                            KindEmail,
		"please call alice (alice@example.com) before delivery":                 KindEmail,
		"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcdefghij": KindToken,
		"Call before delivery; door code 1234":                                  "",
		"https://shop.example/products?color=red":                               "",
	} {
		if got := containedKind(v); got != want {
			t.Errorf("containedKind(%q) = %q, want %q", v, got, want)
		}
	}
}

func TestStats_Verdict(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		kind   string
		reason string
	}{
		{"all emails", []string{"a@x.example", "b@x.example", "c@x.example"}, KindEmail, "3 of 3 sampled values are email addresses"},
		{"half IPs", []string{"10.0.0.1", "n/a", "10.0.0.2", "unknown"}, KindIP, "2 of 4 sampled values are IP addresses"},
		{"few phones", []string{"+49 30 1234567", "foo", "bar", "baz"}, "", ""},
		{"emails in text", []string{"note", "mail me at bob@example.org", "x", "y", "z"}, KindFreeText, "1 of 5 sampled values contain an email address"},
		{"JSON with an email", []string{`{"email":"a@b.example"}`, `{"n":1}`}, KindFreeText, "1 of 2 sampled values contain an email address"},
		{"blanks only", []string{"", "  "}, "", ""},
		{"plain words", []string{"red", "green", "blue"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s stats
			for _, v := range tt.values {
				s.add([]byte(v))
			}
			kind, reason := s.verdict()
			if kind != tt.kind || reason != tt.reason {
				t.Errorf("verdict() = %q, %q; want %q, %q", kind, reason, tt.kind, tt.reason)
			}
		})
	}
	var s stats
	s.add([]byte(`{"a": 1}`))
	s.add([]byte(`[1, 2]`))
	if s.jsonDocs != 2 {
		t.Errorf("jsonDocs = %d, want 2", s.jsonDocs)
	}
	if !strings.Contains(what[KindFreeText], "free text") {
		t.Errorf("what[KindFreeText] = %q", what[KindFreeText])
	}
}
