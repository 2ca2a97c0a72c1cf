package redis

// For the fuzz tests: the wire codec and the position parser.
var (
	EncodeMessage = encodeMessage
	DecodeMessage = decodeMessage
	ParsePosition = parsePosition
)
