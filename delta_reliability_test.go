package backfill_test

// A delta pull never misses a row (issue 10, DESIGN principle 3): found
// while pull_failed_import.txtar and pull_dry_run.txtar failed now and then.

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestFault_DeltaSameSecond: a row written just after the manifest was taken,
// in the same second, into created_at/updated_at columns without fractional
// seconds (TIMESTAMP, DATETIME: Laravel's default) is stored as that whole
// second, which is earlier than a checkpoint with microseconds. The next
// delta since the manifest's generated_at must still bring it.
func TestFault_DeltaSameSecond(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.src.Exec(t, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20), created_at TIMESTAMP NULL, updated_at TIMESTAMP NULL)",
		"CREATE TABLE d (id INT PRIMARY KEY, v VARCHAR(20), created_at DATETIME NULL, updated_at DATETIME NULL)",
		"INSERT INTO t VALUES (1, 'old', '2025-01-01 00:00:00', '2025-01-01 00:00:00'), (2, 'old', '2025-01-01 00:00:00', '2025-01-01 00:00:00')",
		"INSERT INTO d VALUES (1, 'old', '2025-01-01 00:00:00', '2025-01-01 00:00:00')")
	var since string
	for range 20 {
		res := r.mustRun("bf-manifest")
		var m struct {
			GeneratedAt string `json:"generated_at"`
		}
		if err := json.Unmarshal([]byte(res.stdout), &m); err != nil {
			t.Fatal(err)
		}
		g, err := time.Parse(time.RFC3339Nano, m.GeneratedAt)
		if err != nil {
			t.Fatal(err)
		}
		// A write in the same second, after the manifest: stored as the
		// whole second. (Past the first ~900 ms of a second the write
		// below could fall into the next one; try again then.)
		if g.Nanosecond() < 900e6 {
			second := g.Truncate(time.Second).Format("2006-01-02 15:04:05")
			r.src.Exec(t, "UPDATE t SET v = 'changed', updated_at = '"+second+"' WHERE id = 1",
				"INSERT INTO t VALUES (3, 'new', '"+second+"', '"+second+"')",
				"UPDATE d SET v = 'changed', updated_at = '"+second+"' WHERE id = 1")
			since = m.GeneratedAt
			break
		}
		time.Sleep(150 * time.Millisecond)
	}
	if since == "" {
		t.Fatal("no manifest early enough in its second")
	}
	for _, table := range []string{"t", "d"} {
		r.mustRun("bf-dump", "--table", table, "--since", since, "-o", table+".sql.zst")
		text, err := zstdDecode(r.path(table + ".sql.zst"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(text), "'changed'") {
			t.Errorf("the delta of %s since %s misses the row updated in the same second:\n%s", table, since, text)
		}
		if table == "t" && !strings.Contains(string(text), "'new'") {
			t.Errorf("the delta of t since %s misses the row inserted in the same second", since)
		}
	}
}
