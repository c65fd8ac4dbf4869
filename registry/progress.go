package registry

// Phase says which part of an operation an Event belongs to.
type Phase string

// Phases of Push and Pull.
const (
	PhaseHash     Phase = "hash"     // Push reads the folder to compute digests
	PhaseUpload   Phase = "upload"   // Push sends blobs the registry lacks
	PhaseDownload Phase = "download" // Pull fetches and verifies blobs
)

// EventKind is what happened.
type EventKind int

// Kinds of Event.
const (
	// EventTotal opens a phase: Size is the bytes and Count the blobs it will move.
	EventTotal EventKind = iota
	// EventStart: blob Name of Size bytes starts.
	EventStart
	// EventBytes: N more bytes of blob Name moved (negative when a retry restarts it).
	EventBytes
	// EventDone: blob Name finished.
	EventDone
	// EventSkip: the registry already has blob Name (Size bytes); nothing is sent.
	EventSkip
	// EventRetry: blob Name failed with Err and starts again.
	EventRetry
)

// Event reports progress to the function given with WithProgress. Name is the
// layer's title (a file, or a folder for a tar layer) or "config".
type Event struct {
	Phase Phase
	Kind  EventKind
	Name  string
	Size  int64
	N     int64
	Count int
	Err   error
}
