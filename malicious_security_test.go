package backfill_test

// A malicious (or compromised) server (issue 10): manifests and dump
// streams crafted to make the client write outside the table it asked for,
// outside its database, or outside its download directory. The real
// bf-fetch and bf-import run against a fake bf-serve; whatever it sends,
// they execute only contract-2 INSERTs into the table the stream claims,
// which must exist locally (and be in the manifest when one is given), and
// refuse everything else with nothing executed and nothing kept.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/backfill/backfill/lib/dumpfmt"
	"github.com/backfill/backfill/lib/fetch"
	"github.com/backfill/backfill/lib/manifest"
	"github.com/backfill/backfill/lib/testdb"
)

// evilServer answers bf-fetch with whatever the test put in it.
type evilServer struct {
	mu       sync.Mutex
	manifest []byte
	dumps    map[string][]byte // table → compressed stream
	srv      *httptest.Server
}

func newEvilServer(t *testing.T) *evilServer {
	e := &evilServer{dumps: map[string][]byte{}}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		defer e.mu.Unlock()
		path := r.URL.Path
		switch {
		case path == "/api/backfill/manifest":
			w.Header().Set("Content-Type", "application/json")
			w.Write(e.manifest)
		case strings.HasPrefix(path, "/api/backfill/dump/"):
			d, ok := e.dumps[strings.TrimPrefix(path, "/api/backfill/dump/")]
			if !ok {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusNotFound)
				w.Write([]byte(`{"error":"unknown table"}`))
				return
			}
			w.Header().Set("Content-Type", "application/zstd")
			w.Write(d)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *evilServer) set(m []byte, dumps map[string][]byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.manifest, e.dumps = m, dumps
}

// evilManifest lists tables with the columns id and email.
func evilManifest(t *testing.T, tables ...string) []byte {
	m := &manifest.Manifest{Version: 1, GeneratedAt: "2026-11-25T12:00:00Z", Database: "app",
		Order: tables, Excluded: []string{}, BrokenCycles: []manifest.BrokenEdge{}}
	for _, n := range tables {
		m.Tables = append(m.Tables, &manifest.Table{Name: n, Rows: 2, PrimaryKey: []string{"id"},
			Columns:     []manifest.Column{{Name: "id", Type: "int(11)"}, {Name: "email", Type: "varchar(100)"}},
			ForeignKeys: []manifest.ForeignKey{}, Sanitized: []string{}})
	}
	var buf bytes.Buffer
	if err := manifest.Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// goodStream is a valid stream of two rows for table.
func goodStream(t *testing.T, table string) []byte {
	var buf bytes.Buffer
	w, err := dumpfmt.NewWriter(&buf, dumpfmt.Header{Table: table, Mode: dumpfmt.ModeFull, GeneratedAt: "2026-11-25T12:00:00Z"},
		dumpfmt.Options{Columns: []string{"id", "email"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range []string{"(1,'new1@x.example')", "(2,'new2@x.example')"} {
		if err := w.WriteRow([]byte(row)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// evilStream is a stream of users whose body (the lines between the
// session settings and COMMIT) is the given lines, with an end marker that
// counts rows.
func evilStream(t *testing.T, rows int, lines ...string) []byte {
	text := "-- backfill dump v1 table=users mode=full since= generated_at=2026-11-25T12:00:00Z\n" +
		dumpfmt.SaveLine + "\n" + dumpfmt.NamesLine + "\n" + dumpfmt.SettingsLine + "\n" +
		strings.Join(lines, "\n") + "\n" +
		dumpfmt.CommitLine + "\n" + dumpfmt.RestoreLine + "\n" +
		fmt.Sprintf("-- backfill end rows=%d\n", rows)
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return enc.EncodeAll([]byte(text), nil)
}

// world is what a hostile stream must not change: the local tables, the
// other database, the databases, the users and the global settings.
func world(t *testing.T, dst, other *testdb.DB) string {
	t.Helper()
	var b strings.Builder
	for _, tb := range []string{"users", "victim"} {
		fmt.Fprintf(&b, "local %s: %s\n", tb, sum(t, dst, tb))
	}
	fmt.Fprintf(&b, "other users: %s\n", sum(t, other, "users"))
	admin := dst.Server().Admin
	out, err := runSQL(admin, "SELECT SCHEMA_NAME FROM INFORMATION_SCHEMA.SCHEMATA WHERE SCHEMA_NAME IN ('"+dst.Name+"','"+other.Name+"') ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	b.WriteString("databases: " + out)
	out, err = runSQL(admin, "SELECT COUNT(*) FROM mysql.user WHERE User LIKE 'bf_evil%'")
	if err != nil {
		t.Fatal(err)
	}
	b.WriteString("evil users: " + out)
	out, err = runSQL(admin, "SELECT @@GLOBAL.max_connections, @@GLOBAL.general_log, @@GLOBAL.read_only, @@GLOBAL.local_infile")
	if err != nil {
		t.Fatal(err)
	}
	b.WriteString("globals: " + out)
	return b.String()
}

// TestSecurity_MaliciousStreams serves hostile dump streams for "users":
// statements other than contract 2's (USE, DROP DATABASE, CREATE USER,
// GRANT, SET GLOBAL, a second statement after the INSERT), INSERTs into
// another table or another database, and a stream of another table.
// bf-fetch refuses each and keeps no file; bf-fetch | bf-import in a pipe
// imports nothing; and bf-import given the raw stream (as if it had come by
// some other way) refuses it with nothing executed.
func TestSecurity_MaliciousStreams(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	other := r.src
	other.Exec(t, "CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(100))", "INSERT INTO users VALUES (5,'other@x.example')")
	r.dst.Exec(t, "CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(100))", "CREATE TABLE victim (id INT PRIMARY KEY, email VARCHAR(100))",
		"INSERT INTO users VALUES (7,'old@x.example')", "INSERT INTO victim VALUES (1,'keep@x.example')")
	ins := "INSERT INTO `users` (`id`,`email`) VALUES (1,'a@x.example'),(2,'b@x.example');"
	o := "`" + other.Name + "`"
	cases := []struct {
		name   string
		stream []byte
	}{
		{"use other db", evilStream(t, 2, "USE "+o+";", ins)},
		{"drop database", evilStream(t, 2, ins, "DROP DATABASE "+o+";")},
		{"create user", evilStream(t, 2, "CREATE USER 'bf_evil'@'%' IDENTIFIED BY 'x';", ins)},
		{"grant", evilStream(t, 2, ins, "GRANT ALL ON *.* TO 'bf_evil'@'%' IDENTIFIED BY 'x';")},
		{"set global", evilStream(t, 2, "SET GLOBAL max_connections=1;", ins)},
		{"set global local_infile", evilStream(t, 2, "SET GLOBAL local_infile=0;", ins)},
		{"second statement after the insert", evilStream(t, 2, strings.TrimSuffix(ins, ";")+"; DROP DATABASE "+o+";")},
		{"statement hidden in a value", evilStream(t, 1, "INSERT INTO `users` (`id`,`email`) VALUES (1,''); DROP DATABASE "+o+"; -- ');")},
		{"insert into another table", evilStream(t, 1, "INSERT INTO `victim` (`id`,`email`) VALUES (9,'x');")},
		{"insert into another database", evilStream(t, 1, "INSERT INTO "+o+".`users` (`id`,`email`) VALUES (9,'x');")},
		{"insert ... select", evilStream(t, 1, "INSERT INTO `users` (`id`,`email`) SELECT id, email FROM "+o+".`users`;")},
		{"subquery in a value", evilStream(t, 1, "INSERT INTO `users` (`id`,`email`) VALUES (1,(SELECT GROUP_CONCAT(User) FROM mysql.user));")},
		{"function call in a value", evilStream(t, 1, "INSERT INTO `users` (`id`,`email`) VALUES (1,LOAD_FILE('/etc/passwd'));")},
		{"versioned comment", evilStream(t, 2, "/*!50000 DROP DATABASE "+o+" */;", ins)},
		{"other table's stream", goodStream(t, "victim")},
		{"table in another database", goodStream(t, other.Name+"`.`users")},
	}
	srv := newEvilServer(t)
	before := world(t, r.dst, other)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv.set(evilManifest(t, "users"), map[string][]byte{"users": tc.stream})
			// Through bf-fetch: every case under make test-long, a few
			// (and the last two, of another table) in the quick suite.
			if longTests() || i < 3 || i >= len(cases)-2 {
				dir := fmt.Sprintf("cache%d", i)
				res := r.run("bf-fetch", "--url", srv.srv.URL, "--retries", "1", "all", "--dir", dir)
				if res.code != 1 {
					t.Errorf("bf-fetch all: exit %d, want 1\n%s", res.code, res.stderr)
				}
				if _, err := os.Stat(r.path(filepath.Join(dir, "users.sql.zst"))); err == nil {
					t.Errorf("bf-fetch all kept users.sql.zst")
				}
				res = r.run("sh", "-c", "bf-fetch --url "+srv.srv.URL+" --retries 1 dump users | bf-import -")
				if res.code != 1 {
					t.Errorf("bf-fetch dump | bf-import: exit %d, want 1\n%s", res.code, res.stderr)
				}
			}
			raw := fmt.Sprintf("raw%d.sql.zst", i)
			if err := os.WriteFile(r.path(raw), tc.stream, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(r.path("m.json"), evilManifest(t, "users"), 0o644); err != nil {
				t.Fatal(err)
			}
			res := r.run("bf-import", "--manifest", "m.json", raw)
			if res.code != 1 || !strings.Contains(res.stderr, "nothing was imported") {
				t.Errorf("bf-import of the raw stream: exit %d, want 1 and nothing imported\n%s", res.code, res.stderr)
			}
			t.Logf("bf-import: %s", strings.TrimSpace(res.stderr))
			if after := world(t, r.dst, other); after != before {
				t.Fatalf("the hostile stream changed the world:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}

	// The control: the same server with an honest stream works.
	srv.set(evilManifest(t, "users"), map[string][]byte{"users": goodStream(t, "users")})
	r.mustRun("sh", "-c", "bf-fetch --url "+srv.srv.URL+" dump users | bf-import -")
	if got, want := sum(t, r.dst, "users"), "2 "; !strings.HasPrefix(got, want) {
		t.Errorf("the honest stream loaded %s, want 2 rows", got)
	}
}

// TestSecurity_StreamNotInManifest: with --manifest, bf-import refuses a
// stream of a table the manifest does not list, even a valid one of a
// table that exists locally, and imports none of the streams given.
func TestSecurity_StreamNotInManifest(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.dst.Exec(t, "CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(100))", "CREATE TABLE victim (id INT PRIMARY KEY, email VARCHAR(100))",
		"INSERT INTO users VALUES (7,'old@x.example')", "INSERT INTO victim VALUES (1,'keep@x.example')")
	before := sums(t, r.dst, "users", "victim")
	for name, data := range map[string][]byte{"m.json": evilManifest(t, "users"), "users.sql.zst": goodStream(t, "users"), "victim.sql.zst": goodStream(t, "victim")} {
		if err := os.WriteFile(r.path(name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res := r.run("bf-import", "--manifest", "m.json", "users.sql.zst", "victim.sql.zst")
	if res.code != 1 || !strings.Contains(res.stderr, `table "victim" is not in the manifest`) {
		t.Errorf("bf-import --manifest with a stream of another table: exit %d\n%s", res.code, res.stderr)
	}
	sameSums(t, "after the refusal", r.dst, before)
}

// TestSecurity_MaliciousManifest: table names in a manifest that try to
// leave the download directory or to become SQL. bf-fetch keeps every file
// inside its directory, and bf-import refuses the streams (no such local
// table) with nothing imported.
func TestSecurity_MaliciousManifest(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.dst.Exec(t, "CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(100))", "CREATE TABLE victim (id INT PRIMARY KEY, email VARCHAR(100))",
		"INSERT INTO users VALUES (7,'old@x.example')", "INSERT INTO victim VALUES (1,'keep@x.example')")
	before := sums(t, r.dst, "users", "victim")
	names := []string{"../escape", "..", ".", "../../../../tmp/bf-escape", "a/../../b", "/abs", ".hidden", "manifest.json", "meta.json",
		"users`; DROP TABLE victim; --", "victim' OR '1'='1", "%2e%2e", "x\\..\\y"}
	dumps := map[string][]byte{}
	for _, n := range names {
		dumps[n] = goodStream(t, n)
	}
	srv := newEvilServer(t)
	srv.set(evilManifest(t, names...), dumps)
	listing := func(dir string) []string {
		var out []string
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && p != dir {
				rel, _ := filepath.Rel(dir, p)
				out = append(out, rel)
			}
			return nil
		})
		slices.Sort(out)
		return out
	}
	outside := listing(r.dir)
	res := r.run("bf-fetch", "--url", srv.srv.URL, "--retries", "1", "all", "--dir", "d/cache")
	t.Logf("bf-fetch all: exit %d\n%s", res.code, res.stderr)
	files := listing(r.path("d/cache"))
	for _, f := range files {
		if strings.Contains(f, "/") {
			t.Errorf("bf-fetch wrote %q below the download directory", f)
		}
	}
	got := listing(r.dir)
	for _, f := range got {
		if !strings.HasPrefix(f, "d") && !slices.Contains(outside, f) {
			t.Errorf("bf-fetch wrote %q outside its download directory", f)
		}
	}
	if _, err := os.Stat("/tmp/bf-escape.sql.zst"); err == nil {
		t.Errorf("bf-fetch wrote /tmp/bf-escape.sql.zst")
	}
	// Each name has its own file: none overwrote another, nor
	// manifest.json or meta.json.
	n := 0
	for _, name := range names {
		p := r.path(filepath.Join("d/cache", fetch.FileName(name)))
		if err := verifyFile(p); err != nil {
			t.Errorf("%q: %s: %v", name, fetch.FileName(name), err)
			continue
		}
		n++
	}
	var m map[string]any
	if data, err := os.ReadFile(r.path("d/cache/manifest.json")); err != nil || json.Unmarshal(data, &m) != nil {
		t.Errorf("manifest.json was overwritten or is missing (%v)", err)
	}
	if n == len(names) {
		args := []string{"--manifest", "d/cache/manifest.json"}
		for _, name := range names {
			args = append(args, filepath.Join("d/cache", fetch.FileName(name)))
		}
		res = r.run("bf-import", args...)
		if res.code != 1 || !strings.Contains(res.stderr, "nothing was imported") {
			t.Errorf("bf-import of the hostile tables: exit %d, want 1 and nothing imported\n%s", res.code, res.stderr)
		}
	}
	sameSums(t, "after the hostile manifest", r.dst, before)
}
