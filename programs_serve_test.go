package backfill_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/backfill/backfill/lib/cli/bfserve"
)

func init() {
	programs["bf-serve"] = bfserve.Main
	programs["httpget"] = httpGet
}

// httpGet is a tiny curl for the serve_* scripts, so they can check raw
// statuses and bodies of contract 3 without bf-fetch in between:
//
//	httpget [-X METHOD] [-o FILE] [-H 'Name: value']... URL
//
// It sends "Authorization: Bearer $BACKFILL_TOKEN" when the variable is set
// (and no -H Authorization is given), writes the body to stdout (or FILE),
// and prints "STATUS Content-Type" and the headers named by $HTTPGET_SHOW
// (comma-separated) on stderr. Exit status 0 for 2xx, 1 otherwise, 2 on
// misuse.
func httpGet() int {
	args := os.Args[1:]
	method, out := http.MethodGet, ""
	var headers [][2]string
	for len(args) > 1 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-X":
			method = args[1]
		case "-o":
			out = args[1]
		case "-H":
			k, v, ok := strings.Cut(args[1], ":")
			if !ok {
				fmt.Fprintln(os.Stderr, "httpget: -H wants 'Name: value'")
				return 2
			}
			headers = append(headers, [2]string{strings.TrimSpace(k), strings.TrimSpace(v)})
		default:
			fmt.Fprintf(os.Stderr, "httpget: unknown flag %s\n", args[0])
			return 2
		}
		args = args[2:]
	}
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: httpget [-X METHOD] [-o FILE] [-H 'Name: value']... URL")
		return 2
	}
	req, err := http.NewRequest(method, args[0], nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "httpget:", err)
		return 2
	}
	if tok := os.Getenv("BACKFILL_TOKEN"); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for _, h := range headers {
		req.Header.Set(h[0], h[1])
	}
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "httpget:", err)
		return 1
	}
	defer resp.Body.Close()
	fmt.Fprintf(os.Stderr, "%d %s\n", resp.StatusCode, resp.Header.Get("Content-Type"))
	for _, name := range strings.Split(os.Getenv("HTTPGET_SHOW"), ",") {
		if name = strings.TrimSpace(name); name != "" {
			fmt.Fprintf(os.Stderr, "%s: %s\n", name, resp.Header.Get(name))
		}
	}
	w := io.Writer(os.Stdout)
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			fmt.Fprintln(os.Stderr, "httpget:", err)
			return 1
		}
		defer f.Close()
		w = f
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		fmt.Fprintln(os.Stderr, "httpget: read body:", err)
		return 1
	}
	if resp.StatusCode/100 != 2 {
		return 1
	}
	return 0
}
