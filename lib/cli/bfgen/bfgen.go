// Package bfgen is the bf-gen program: it creates and fills the app-like
// fixture database of package fixture, the "production" that backfill's
// tests, benchmarks and demonstrations pull from.
package bfgen

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/backfill/backfill/lib/cli"
	"github.com/backfill/backfill/lib/fixture"
	"github.com/backfill/backfill/lib/mysqldb"
)

const prog = "bf-gen"

const usage = `Usage:
    bf-gen [--dsn DSN] [--scale F] [--seed N] [--schema-only] [--drop] [-q]
    bf-gen [--dsn DSN] --touch N [-q]

Bf-gen creates an app-like schema (users, customers, orders, a million-row
activity_log, a self-referencing tree, a circular foreign key pair, a table
without a primary key, odd types and identifiers, a view and a trigger) in
the database the DSN names, and fills it inside the server with
INSERT ... SELECT. The same scale and seed give the same rows on the same
server version. Scale 1 is about 1.3 million rows. The tables are described
in the documentation of package lib/fixture.

With --touch N, bf-gen instead changes N rows of users and of orders and
adds a few new rows to each, stamped with the server's current time: the
changes a delta pull must pick up.

A summary (rows per table, seconds) goes to standard error; nothing is
written to standard output.

Flags:
    --dsn DSN         database to fill, user:password@tcp(host:3306)/db
                      (default $BACKFILL_SOURCE_DSN)
    --scale F         row-count multiplier, 0.001 to 10 (default 0.01)
    --seed N          selects the generated data (default 1)
    --schema-only     create the tables, view and trigger without rows
    --drop            drop the fixture's tables and view first; without it
                      bf-gen refuses to overwrite them
    --touch N         change N rows of users and orders instead of generating
    -q, --quiet       print nothing but errors
    -h, --help        show this help
    --version         print the version

Environment:
    BACKFILL_SOURCE_DSN

Exit status:
    0 success, 1 failure, 2 usage error, 130 interrupted

Example:
    $ bf-gen --dsn 'root@tcp(127.0.0.1:3306)/shop' --scale 1 --drop
`

// Main runs bf-gen in this process and returns its exit status.
func Main() int { return cli.Run(prog, cli.OS(), Run) }

// Run is bf-gen with an injected environment.
func Run(ctx context.Context, env cli.Env) error {
	fs := cli.NewFlagSet(prog)
	dsn := fs.String("dsn", "", "")
	scale := fs.Float64("scale", 0.01, "")
	seed := fs.Int64("seed", 1, "")
	schemaOnly := fs.Bool("schema-only", false, "")
	drop := fs.Bool("drop", false, "")
	touch := fs.Int("touch", 0, "")
	var quiet bool
	fs.BoolVar(&quiet, "q", false, "")
	fs.BoolVar(&quiet, "quiet", false, "")
	args, err := cli.Parse(fs, env, usage)
	if err != nil {
		return err
	}
	if len(args) > 0 {
		return cli.Usagef("unexpected argument %q", args[0])
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["touch"] {
		if *touch < 1 {
			return cli.Usagef("--touch %d: the number of rows must be at least 1", *touch)
		}
		for _, name := range []string{"scale", "seed", "schema-only", "drop"} {
			if set[name] {
				return cli.Usagef("--touch cannot be combined with --%s: it changes an existing fixture", name)
			}
		}
	} else if err := fixture.CheckScale(*scale); err != nil {
		return &cli.UsageError{Msg: "--scale: " + err.Error()}
	}

	target := *dsn
	if target == "" {
		target = env.Getenv("BACKFILL_SOURCE_DSN")
	}
	if target == "" {
		return &cli.UsageError{Msg: "no database", Hints: []string{"pass --dsn or set BACKFILL_SOURCE_DSN"}}
	}
	// Both return errors that already hide the password.
	database, err := mysqldb.Database(target)
	if err != nil {
		return &cli.UsageError{Msg: err.Error()}
	}
	db, err := mysqldb.Open(target)
	if err != nil {
		return &cli.UsageError{Msg: err.Error()}
	}
	defer db.Close()

	log := cli.NewLogger(prog, env)
	log.Quiet = quiet
	if set["touch"] {
		return runTouch(ctx, db, database, *touch, log)
	}

	o := fixture.Options{Scale: *scale, Seed: *seed, SchemaOnly: *schemaOnly, Drop: *drop,
		Progress: func(t fixture.TableStats) {
			log.Printf("%-20s %10d rows %8.2fs", t.Name, t.Rows, t.Elapsed.Seconds())
		}}
	st, err := fixture.Generate(ctx, db, o)
	if err != nil {
		return explain(err, database)
	}
	what := fmt.Sprintf("%d rows in %d tables", st.Total(), len(st.Tables))
	if *schemaOnly {
		what = fmt.Sprintf("%d tables, no rows", len(st.Tables))
	}
	log.Printf("database %q: %s (scale %v, seed %d) in %.2fs", database, what, *scale, *seed, st.Elapsed.Seconds())
	return nil
}

func runTouch(ctx context.Context, db *sql.DB, database string, n int, log *cli.Logger) error {
	start := time.Now()
	if err := fixture.Touch(ctx, db, n); err != nil {
		return explain(err, database)
	}
	log.Printf("database %q: touched %d rows of users and of orders and added %d to each in %.2fs",
		database, n, fixture.TouchInserts(n), time.Since(start).Seconds())
	return nil
}

// explain adds what to do to a failure.
func explain(err error, database string) error {
	switch {
	case errors.Is(err, fixture.ErrExists):
		return cli.WithHint(err, "add --drop to replace the fixture tables, or name another database in --dsn")
	case mysqldb.IsError(err, 1146) && strings.Contains(err.Error(), "touch"):
		return cli.WithHint(err, fmt.Sprintf("--touch needs a generated fixture: run bf-gen on database %q first", database))
	}
	return mysqldb.Explain(err)
}
