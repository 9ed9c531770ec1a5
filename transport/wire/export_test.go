package wire

// Hooks for the external tests of the fast decoding path.
var (
	DecodeServerStd  = decodeServerStd
	DecodeServerFast = decodeServerFast
)

var PlainRun = plainRun

var (
	CellsFast = cellsFast
	CellsStd  = cellsStd
)
