package hub

import "time"

// Newest is the event time of the newest event the hub folded into a
// stream (its state's LastTime); ok is false for a stream the hub does not
// hold or that holds no event yet. It does not create the stream. The alert
// evaluator reads it to tell a silent stream, server-side.
func (h *Hub) Newest(tenant, name string) (t time.Time, ok bool) {
	s := h.stream(key{tenant, name}, false)
	if s == nil {
		return time.Time{}, false
	}
	s.mu.Lock()
	last := s.st.State.LastTime
	s.mu.Unlock()
	if last == 0 {
		return time.Time{}, false
	}
	return time.UnixMilli(last), true
}

// Tenants lists the tenants the hub holds streams of, each once, in no
// order.
func (h *Hub) Tenants() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := make(map[string]bool)
	var out []string
	for k := range h.streams {
		if !seen[k.tenant] {
			seen[k.tenant] = true
			out = append(out, k.tenant)
		}
	}
	return out
}
