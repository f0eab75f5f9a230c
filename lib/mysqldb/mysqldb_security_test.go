package mysqldb_test

import (
	"strings"
	"testing"

	"github.com/backfill/backfill/lib/mysqldb"
)

// TestConfig_NoFileReads: whatever the DSN asks for, a server cannot make
// the client read a file by path (the rogue-server LOAD DATA LOCAL trick):
// bf-import serves LOAD DATA from memory through reader handlers only
// (issue 10, SECURITY.md).
func TestConfig_NoFileReads(t *testing.T) {
	for _, dsn := range []string{
		"u:p@tcp(127.0.0.1:3306)/app?allowAllFiles=true",
		"u:p@tcp(127.0.0.1:3306)/app?allowAllFiles=1&multiStatements=true&interpolateParams=true",
	} {
		cfg, err := mysqldb.Config(dsn)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.AllowAllFiles {
			t.Errorf("Config(%q).AllowAllFiles = true", mysqldb.Redact(dsn))
		}
		if cfg.MultiStatements || cfg.InterpolateParams {
			t.Errorf("Config(%q): multiStatements %v, interpolateParams %v; want both off", mysqldb.Redact(dsn), cfg.MultiStatements, cfg.InterpolateParams)
		}
	}
}

// TestRedact: the password never survives Redact, whatever the DSN looks
// like, parsable or not.
func TestRedact(t *testing.T) {
	for _, dsn := range []string{
		"user:Secr3t-pw@tcp(db:3306)/app",
		"user:Secr3t-pw@tcp(db:3306/app",
		"user:Secr3t-pw@unix(/run/mysqld.sock)/app?timeout=1s",
		"user:Secr3t-pw@",
		"Secr3t-pw",
		"user:Secr3t-pw@tcp(db:3306)/app@x",
	} {
		got := mysqldb.Redact(dsn)
		if strings.Contains(got, "Secr3t-pw") {
			t.Errorf("Redact(%q) = %q", dsn, got)
		}
		if _, err := mysqldb.Config(dsn); err != nil && strings.Contains(err.Error(), "Secr3t-pw") {
			t.Errorf("Config(%q) error %q holds the password", dsn, err)
		}
	}
}
