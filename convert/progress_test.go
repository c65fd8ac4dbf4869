package convert

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
)

// A conversion reports Start, every tensor once, input bytes adding up to
// the announced total, and Finish last.
func TestProgressEvents(t *testing.T) {
	t.Parallel()
	var (
		mu     sync.Mutex
		events []Event
	)
	record := func(e Event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}
	sum, err := Convert(context.Background(), filepath.Join(fixtures, "stories260k"), filepath.Join(t.TempDir(), "out"),
		WithProgress(record), withChunkElems(64), WithJobs(2))
	if err != nil {
		t.Fatal(err)
	}
	if len(events) < 3 || events[0].Kind != EventStart || events[len(events)-1].Kind != EventFinish {
		t.Fatalf("events %+v", events)
	}
	start := events[0]
	var advanced int64
	tensors := map[string]bool{}
	for _, e := range events[1 : len(events)-1] {
		switch e.Kind {
		case EventAdvance:
			advanced += e.Bytes
		case EventTensor:
			if tensors[e.Name] || e.Spec == "" || e.Bytes <= 0 {
				t.Errorf("tensor event %+v (again, or without spec or size)", e)
			}
			tensors[e.Name] = true
		default:
			t.Errorf("unexpected event %+v", e)
		}
	}
	if start.Count != sum.Tensors || len(tensors) != sum.Tensors {
		t.Errorf("start says %d tensors, %d reported, summary %d", start.Count, len(tensors), sum.Tensors)
	}
	if start.Total != sum.BytesIn || advanced != start.Total {
		t.Errorf("input bytes: start %d, advanced %d, summary %d", start.Total, advanced, sum.BytesIn)
	}
}
