package strictjson_test

import "io"

var ioEOF = io.EOF
