package bfstatus

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// box is a text table with a border, like the original package's output:
//
//	+----+-------+
//	| ID | Mode  |
//	+----+-------+
//	|  3 | delta |
//	+----+-------+
type box struct {
	head  []string
	right []bool // right-align the column (numbers)
	rows  [][]string
}

func (b *box) add(cells ...string) { b.rows = append(b.rows, cells) }

func (b *box) write(w io.Writer) error {
	width := make([]int, len(b.head))
	for i, h := range b.head {
		width[i] = utf8.RuneCountInString(h)
	}
	for _, r := range b.rows {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	var sb strings.Builder
	rule := func() {
		for _, w := range width {
			sb.WriteString("+" + strings.Repeat("-", w+2))
		}
		sb.WriteString("+\n")
	}
	line := func(cells []string, align bool) {
		for i, c := range cells {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if align && b.right[i] {
				sb.WriteString("| " + pad + c + " ")
			} else {
				sb.WriteString("| " + c + pad + " ")
			}
		}
		sb.WriteString("|\n")
	}
	rule()
	line(b.head, false)
	rule()
	for _, r := range b.rows {
		line(r, true)
	}
	rule()
	_, err := io.WriteString(w, sb.String())
	return err
}

// count formats n with thousands separators: 1,250.
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// plural is "1 table", "12 tables".
func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return count(n) + " " + word + "s"
}

// human is a short duration: 0.4s, 45s, 3m, 3m20s, 2h5m.
func human(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		m, s := int(d.Minutes()), int(d.Seconds())%60
		if s == 0 {
			return fmt.Sprintf("%dm", m)
		}
		return fmt.Sprintf("%dm%ds", m, s)
	default:
		h, m := int(d.Hours()), int(d.Minutes())%60
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m)
	}
}

// ago is "12 minutes ago", "3 hours ago", "just now".
func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int64(d.Minutes()), "minute") + " ago"
	case d < 48*time.Hour:
		return plural(int64(d.Hours()), "hour") + " ago"
	default:
		return plural(int64(d.Hours()/24), "day") + " ago"
	}
}

// shorten keeps at most n runes of s, ending with "…" when it cut.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
