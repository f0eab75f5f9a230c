package didyoumean

import "testing"

func TestClosest(t *testing.T) {
	for _, tt := range []struct {
		name  string
		cands []string
		want  string
	}{
		{"chunk_sise", []string{"listen", "chunk_size", "salt"}, "chunk_size"},
		{"userz", []string{"users", "posts"}, "users"},
		{"zzzzzz", []string{"users", "posts"}, ""},
		{"USERS", []string{"users"}, "users"},
	} {
		if got := Closest(tt.name, tt.cands); got != tt.want {
			t.Errorf("Closest(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}
