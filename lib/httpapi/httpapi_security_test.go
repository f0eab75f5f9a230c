package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/backfill/backfill/lib/testdb"
)

// TestServer_OtherDatabases: a client that knows the name of another
// database on the same server cannot reach it through the dump route,
// however it spells the name (a qualified name, quoted parts, a path), nor
// through since; the answers are 404 or 400 and never carry its rows
// (issue 10; the route fuzzing is FuzzServer_Route).
func TestServer_OtherDatabases(t *testing.T) {
	addr, db := routeServer(t)
	other := testdb.New(t)
	other.Exec(t, "CREATE TABLE marker (id INT PRIMARY KEY, v VARCHAR(40))", "INSERT INTO marker VALUES (1, 'other-database-marker-7731')")
	o := other.Name
	for _, name := range []string{
		o + ".marker", "`" + o + "`.`marker`", o + "`.`marker", "../" + o + "/marker", o + "/marker",
		"information_schema.TABLES", "mysql.user", "performance_schema.threads",
		"users UNION SELECT * FROM " + o + ".marker", "users` UNION SELECT v FROM `" + o + "`.`marker`; --",
		"users WHERE 1=0; SELECT * FROM " + o + ".marker",
	} {
		status, h, body := rawGet(t, addr, "GET", "/api/backfill/dump/"+escapeAll([]byte(name)))
		checkAnswer(t, name, status, h, body)
		if status != http.StatusNotFound && status != http.StatusBadRequest {
			t.Errorf("dump of %q: status %d, want 404 or 400: %s", name, status, body)
		}
		if strings.Contains(string(body), "other-database-marker-7731") {
			t.Errorf("dump of %q: the answer holds the other database's row", name)
		}
	}
	for _, since := range []string{"2020-01-01T00:00:00Z' UNION SELECT v FROM " + o + ".marker -- ", "(SELECT v FROM " + o + ".marker)"} {
		status, h, body := rawGet(t, addr, "GET", "/api/backfill/dump/users?since="+escapeAll([]byte(since)))
		checkAnswer(t, since, status, h, body)
		if status != http.StatusBadRequest {
			t.Errorf("since %q: status %d, want 400", since, status)
		}
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM users").Scan(&n); err != nil || n != 3 {
		t.Errorf("users has %d rows (%v), want 3", n, err)
	}
}
