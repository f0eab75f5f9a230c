package testdb

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// SharedDir is ../shared/testdata next to the repository (DESIGN.md: the
// public sample databases for end-to-end tests).
func SharedDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "testdata")
}

// RequireSakila returns the paths of the sakila schema and data scripts.
// When they are absent the test is skipped with a message, except under
// CI=true, where it fails.
func RequireSakila(t testing.TB) (schemaPath, dataPath string) {
	t.Helper()
	dir := filepath.Join(SharedDir(), "sakila")
	schemaPath = filepath.Join(dir, "sakila-schema.sql")
	dataPath = filepath.Join(dir, "sakila-data.sql")
	for _, p := range []string{schemaPath, dataPath} {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("sample database missing: %v", err)
			}
			t.Skipf("sample database not present (%v); skipping", err)
		}
	}
	return schemaPath, dataPath
}

// LoadSakila loads the sakila sample (schema, views, triggers, routines and
// data) into d instead of a database named sakila.
func (d *DB) LoadSakila(t testing.TB) {
	t.Helper()
	schemaPath, dataPath := RequireSakila(t)
	for _, p := range []string{schemaPath, dataPath} {
		if err := d.loadRetargeted(p, "sakila"); err != nil {
			t.Fatal(err)
		}
	}
}

// loadRetargeted pipes an SQL script into the stock client, dropping the
// statements that create, drop or switch to the database named from.
func (d *DB) loadRetargeted(path, from string) error {
	client := lookBin("mariadb", "mysql")
	if client == "" {
		return fmt.Errorf("testdb: no mariadb/mysql client installed; %s", installHint)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var buf bytes.Buffer
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	drop := map[string]bool{
		"DROP SCHEMA IF EXISTS " + from + ";": true,
		"CREATE SCHEMA " + from + ";":         true,
		"USE " + from + ";":                   true,
	}
	for sc.Scan() {
		if drop[strings.TrimSpace(sc.Text())] {
			continue
		}
		// Views name their tables with the database: retarget those too.
		buf.WriteString(strings.ReplaceAll(sc.Text(), from+".", "`"+d.Name+"`."))
		buf.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return err
	}
	cmd := exec.Command(client, d.ClientArgs()...)
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("testdb: load %s: %v\n%s", path, err, out)
	}
	return nil
}
