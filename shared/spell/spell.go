// Package spell suggests what a mistyped name was meant to be: the "did you
// mean" of an unknown command, flag or dashboard key.
//
// It must never guess far: a suggestion is offered only when it is a few
// edits away, so a wrong guess never hides a real mistake.
package spell

import "strings"

// Closest returns the candidate nearest to word, and whether one is close
// enough to suggest: at most a third of word's length in edits (insertions,
// deletions, substitutions and swaps of neighbours), at least one, and
// nearer than any other candidate by the same count. Case is ignored, so
// "Width" suggests "width".
func Closest(word string, candidates []string) (string, bool) {
	w := strings.ToLower(word)
	limit := max(1, len([]rune(w))/3)
	best, bestD, tie := "", limit+1, false
	for _, c := range candidates {
		d := distance(w, strings.ToLower(c))
		switch {
		case d < bestD:
			best, bestD, tie = c, d, false
		case d == bestD:
			tie = tie || c != best
		}
	}
	if bestD > limit || tie {
		return "", false
	}
	return best, true
}

// distance is the optimal string alignment distance between a and b: the
// Levenshtein distance with a swap of two neighbours counted as one edit
// ("widht" is one edit from "width").
func distance(a, b string) int {
	s, t := []rune(a), []rune(b)
	// Three rows of the dynamic-programming table: two back for swaps.
	prev2 := make([]int, len(t)+1)
	prev := make([]int, len(t)+1)
	cur := make([]int, len(t)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(s); i++ {
		cur[0] = i
		for j := 1; j <= len(t); j++ {
			cost := 1
			if s[i-1] == t[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && s[i-1] == t[j-2] && s[i-2] == t[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(t)]
}
