package agg

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ParseFilter reads a filter: conditions joined by "and", each
//
//	FIELD = V    FIELD != V    FIELD in (V, V, ...)
//	FIELD > N    FIELD >= N    FIELD < N    FIELD <= N
//
// where a value V is a word or a string in single or double quotes
// ("status in (paid, 'on hold')") and N a number. The conditions come back
// in one order (by field, then operator), with the values of "in" sorted
// and distinct, so that two spellings of a filter are one aggregate.
func ParseFilter(src string) ([]Cond, error) {
	if len(src) > MaxFilter {
		return nil, fmt.Errorf("is longer than %d bytes", MaxFilter)
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	var out []Cond
	i := 0
	next := func() (tok, bool) {
		if i >= len(toks) {
			return tok{}, false
		}
		i++
		return toks[i-1], true
	}
	for {
		f, ok := next()
		if !ok || f.kind != word {
			return nil, errors.New(`want a condition: FIELD = V, != V, in (V, ...), > N, >= N, < N or <= N`)
		}
		if err := validField(f.text); err != nil {
			return nil, fmt.Errorf("%q %w", f.text, err)
		}
		c := Cond{Field: f.text}
		op, ok := next()
		switch {
		case !ok:
			return nil, fmt.Errorf("%s has no operator: want =, !=, in, >, >=, < or <=", f.text)
		case op.kind == word && strings.EqualFold(op.text, "in"):
			c.Op = "in"
			if t, ok := next(); !ok || t.kind != punct || t.text != "(" {
				return nil, fmt.Errorf("%s in: want a list of values in parentheses, (a, b)", f.text)
			}
			for {
				v, ok := next()
				if !ok || (v.kind != word && v.kind != quoted) {
					return nil, fmt.Errorf("%s in (...): want a value", f.text)
				}
				c.Vals = append(c.Vals, v.text)
				t, ok := next()
				if ok && t.kind == punct && t.text == ")" {
					break
				}
				if !ok || t.kind != punct || t.text != "," {
					return nil, fmt.Errorf("%s in (...): want , or ) after %q", f.text, v.text)
				}
			}
			slices.Sort(c.Vals)
			c.Vals = slices.Compact(c.Vals)
			if len(c.Vals) > MaxFilterValues {
				return nil, fmt.Errorf("%s in (...) has %d values, at most %d", f.text, len(c.Vals), MaxFilterValues)
			}
		case op.kind == oper:
			c.Op = op.text
			v, ok := next()
			if !ok || (v.kind != word && v.kind != quoted) {
				return nil, fmt.Errorf("%s %s: want a value", f.text, op.text)
			}
			if c.Op == "=" || c.Op == "!=" {
				c.Vals = []string{v.text}
				break
			}
			n, err := strconv.ParseFloat(v.text, 64)
			if err != nil || n != n {
				return nil, fmt.Errorf("%s %s %q: want a number", f.text, op.text, v.text)
			}
			c.Num = n
		default:
			return nil, fmt.Errorf("%s %q: want an operator: =, !=, in, >, >=, < or <=", f.text, op.text)
		}
		out = append(out, c)
		t, ok := next()
		if !ok {
			break
		}
		if t.kind != word || !strings.EqualFold(t.text, "and") {
			return nil, fmt.Errorf("want \"and\" between conditions, got %q", t.text)
		}
	}
	slices.SortStableFunc(out, func(a, b Cond) int {
		if c := strings.Compare(a.Field, b.Field); c != 0 {
			return c
		}
		return strings.Compare(a.Op, b.Op)
	})
	return out, nil
}

// FilterString writes conditions back in one spelling.
func FilterString(conds []Cond) string {
	var b strings.Builder
	for i, c := range conds {
		if i > 0 {
			b.WriteString(" and ")
		}
		b.WriteString(c.Field)
		b.WriteByte(' ')
		b.WriteString(c.Op)
		b.WriteByte(' ')
		switch c.Op {
		case "in":
			b.WriteByte('(')
			for j, v := range c.Vals {
				if j > 0 {
					b.WriteString(", ")
				}
				quote(&b, v)
			}
			b.WriteByte(')')
		case "=", "!=":
			quote(&b, c.Vals[0])
		default:
			b.WriteString(strconv.FormatFloat(c.Num, 'g', -1, 64))
		}
	}
	return b.String()
}

// quote writes v as the lexer reads it back: in double quotes, or in single
// quotes when it holds a double one (a value the lexer read holds at most
// one kind: it has no escapes).
func quote(b *strings.Builder, v string) {
	q := byte('"')
	if strings.IndexByte(v, '"') >= 0 {
		q = '\''
	}
	b.WriteByte(q)
	b.WriteString(v)
	b.WriteByte(q)
}

type tokKind int

const (
	word tokKind = iota + 1
	quoted
	oper
	punct
)

type tok struct {
	kind tokKind
	text string
}

func lex(src string) ([]tok, error) {
	var out []tok
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '\'' || c == '"':
			j := strings.IndexByte(src[i+1:], c)
			if j < 0 {
				return nil, fmt.Errorf("the quote at byte %d is not closed", i+1)
			}
			out = append(out, tok{quoted, src[i+1 : i+1+j]})
			i += j + 2
		case c == '(' || c == ')' || c == ',':
			out = append(out, tok{punct, src[i : i+1]})
			i++
		case c == '!' || c == '<' || c == '>' || c == '=':
			if i+1 < len(src) && src[i+1] == '=' && c != '=' {
				out = append(out, tok{oper, src[i : i+2]})
				i += 2
				break
			}
			if c == '!' {
				return nil, errors.New(`"!" alone is no operator: want !=`)
			}
			out = append(out, tok{oper, src[i : i+1]})
			i++
		default:
			j := i
			for j < len(src) && !strings.ContainsRune(" \t\n\r'\"(),!<>=", rune(src[j])) {
				j++
			}
			out = append(out, tok{word, src[i:j]})
			i = j
		}
	}
	return out, nil
}
