package bfstatus

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backfill/backfill/lib/cli"
	"github.com/backfill/backfill/lib/config"
	"github.com/backfill/backfill/lib/fetch"
)

// TestCache_Verdict pins bf-status cache's decision for each kind of
// download directory (issue 8: reuse within local_cache_hours, resume
// within 24 hours, else download again).
func TestCache_Verdict(t *testing.T) {
	now := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)
	const src = "http://127.0.0.1:8080/api/backfill"
	meta := func(status string, fetched time.Duration, complete, total int, source string) *fetch.Meta {
		m := &fetch.Meta{Version: fetch.MetaVersion, SourceURL: source, Mode: "full", Status: status,
			StartedAt: stamp(now.Add(-fetched - time.Minute))}
		for i := range total {
			tm := fetch.TableMeta{Name: string(rune('a' + i)), Status: "pending"}
			if i < complete {
				tm.Status, tm.FetchedAt = "complete", stamp(now.Add(-fetched))
			}
			m.Tables = append(m.Tables, tm)
		}
		return m
	}
	tests := []struct {
		name string
		meta *fetch.Meta
		raw  string
		want string
		says string
	}{
		{"nothing there", nil, "", "fetch", ""},
		{"complete and young", meta("complete", 10*time.Minute, 3, 3, src), "", "reuse", "using the complete download of 3 tables from 10 minutes ago"},
		{"complete, older than the cache window", meta("complete", 3*time.Hour, 3, 3, src), "", "resume", "found a complete download of 3 tables from 3 hours ago"},
		{"interrupted with tables to keep", meta("failed", 5*time.Minute, 2, 3, src), "", "resume", "found an interrupted download from 5 minutes ago in DIR: 2 of 3 tables complete"},
		{"interrupted before any table", meta("interrupted", 5*time.Minute, 0, 3, src), "", "fetch", ""},
		{"older than 24 hours", meta("complete", 30*time.Hour, 3, 3, src), "", "fetch", "holds a download of 3 tables from 30 hours ago; downloading again"},
		{"another source", meta("complete", time.Minute, 3, 3, "http://other/api/backfill"), "", "fetch", "holds a download from http://other/api/backfill"},
		{"unreadable meta.json", nil, "{oops", "fetch", "not a meta.json this bf-status reads; downloading again"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			switch {
			case tt.meta != nil:
				data, _ := json.Marshal(tt.meta)
				os.WriteFile(filepath.Join(dir, fetch.MetaFile), data, 0o644)
			case tt.raw != "":
				os.WriteFile(filepath.Join(dir, fetch.MetaFile), []byte(tt.raw), 0o644)
			}
			cfg := config.Defaults()
			cfg.Client.SourceURL = "http://127.0.0.1:8080"
			var stdout, stderr strings.Builder
			c := &cmd{
				env: cli.Env{Stdout: &stdout, Stderr: &stderr},
				cfg: &cfg, o: &options{},
				log: &cli.Logger{Prog: "bf-pull", W: &stderr},
				now: func() time.Time { return now },
			}
			if err := c.cache(dir); err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(stdout.String()); got != tt.want {
				t.Errorf("cache() = %q, want %q", got, tt.want)
			}
			says := strings.ReplaceAll(stderr.String(), dir, "DIR")
			if tt.says == "" && says != "" || !strings.Contains(says, tt.says) {
				t.Errorf("cache() said %q, want %q", says, tt.says)
			}
		})
	}
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
