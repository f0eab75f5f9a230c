package mysqldb_test

import (
	"testing"
	"time"

	"github.com/backfill/backfill/lib/mysqldb"
	"github.com/backfill/backfill/lib/testdb"
)

// TestOpen_KilledIdleConnection: a pooled connection the server killed
// while it sat idle is found dead by the driver's liveness check (which
// must see through the read buffer to the socket) and replaced, instead
// of failing the next query with "invalid connection".
func TestOpen_KilledIdleConnection(t *testing.T) {
	d := testdb.New(t)
	db, err := mysqldb.Open(d.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	var id int64
	if err := db.QueryRow("SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	if _, err := d.DB.Exec("KILL CONNECTION ?", id); err != nil {
		t.Fatal(err)
	}
	var got int64
	deadline := time.Now().Add(5 * time.Second)
	for {
		// The server closes the socket a moment after KILL returns.
		err = db.QueryRow("SELECT CONNECTION_ID()").Scan(&got)
		if err != nil || got != id || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("query after the idle connection was killed: %v", err)
	}
	if got == id {
		t.Fatalf("connection %d still answers after KILL", id)
	}
}
