package strictjson

import "unicode/utf8"

// Lines turns byte offsets into 1-based lines and columns (columns count
// runes). Asked for offsets in increasing order, as a parser meets its
// tokens, it moves forward from the last offset it was asked for, so that
// the positions of all the tokens of a document cost one pass over it; an
// earlier offset starts again from the beginning.
type Lines struct {
	data           []byte
	off, line, col int
}

// NewLines returns Lines over data.
func NewLines(data []byte) *Lines { return &Lines{data: data, line: 1, col: 1} }

// At returns the line and column of byte offset off.
func (l *Lines) At(off int) (line, col int) {
	off = min(max(off, 0), len(l.data))
	if off < l.off {
		l.off, l.line, l.col = 0, 1, 1
	}
	for l.off < off {
		c := l.data[l.off]
		switch {
		case c == '\n':
			l.line, l.col = l.line+1, 1
			l.off++
		case c < utf8.RuneSelf:
			l.col++
			l.off++
		default:
			_, n := utf8.DecodeRune(l.data[l.off:])
			l.col++
			l.off += n
		}
	}
	return l.line, l.col
}

// Position returns the line and column of byte offset off in data.
func Position(data []byte, off int) (line, col int) { return NewLines(data).At(off) }
