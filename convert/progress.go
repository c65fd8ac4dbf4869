package convert

// EventKind is what happened in a conversion.
type EventKind int

// Kinds of Event.
const (
	// EventDownload: Bytes of the Total bytes of Hub file Name are on disk
	// (a resumed part included).
	EventDownload EventKind = iota
	// EventStart: the conversion proper starts, Count tensors from Total
	// input bytes.
	EventStart
	// EventAdvance: Bytes more input bytes were consumed.
	EventAdvance
	// EventTensor: tensor Name was written as Spec, Bytes bytes.
	EventTensor
	// EventFinish: the conversion ended, successfully or not; the last event.
	EventFinish
)

// Event reports progress to the function given with WithProgress.
type Event struct {
	Kind  EventKind
	Name  string // EventDownload: the repository file; EventTensor: the tensor
	Spec  string // EventTensor: its storage, e.g. "int4-sym-rtn-g128"
	Bytes int64
	Total int64
	Count int
}
