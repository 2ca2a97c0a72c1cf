package httperr

import "strings"

// ParseID reads an ID from a URL path in its one canonical form: decimal
// digits, no sign, no leading zeros, more than 0 and within int64. "23" is
// 23; "023", "+23", "%2B23" (unescaped to "+23"), "23 ", "0" and
// "9223372036854775808" are not IDs. A handler answers a string that is
// not an ID exactly as it answers an ID that names nothing: 404.
func ParseID(s string) (int64, bool) {
	if s == "" || len(s) > 19 || s[0] == '0' {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (1<<63-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// ParsePrefixedID reads an ID such as "AR-12": prefix, then a canonical ID
// as ParseID reads it.
func ParsePrefixedID(s, prefix string) (int64, bool) {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return 0, false
	}
	return ParseID(rest)
}
